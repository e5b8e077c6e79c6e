"""Per-step randomness: one generator per (seed, step, micro, stream), global draws sliced per rank."""

from __future__ import annotations

import pytest
import torch

from sparse_core.engine import Task, global_rows, mix_seed, step_generator, stream_id


def test_generator_depends_on_every_key() -> None:
    base = torch.rand(8, generator=step_generator(1, 2, 0, "tokens"))
    assert torch.equal(base, torch.rand(8, generator=step_generator(1, 2, 0, "tokens")))
    for other in [(2, 2, 0, "tokens"), (1, 3, 0, "tokens"), (1, 2, 1, "tokens"), (1, 2, 0, "frames")]:
        assert not torch.equal(base, torch.rand(8, generator=step_generator(*other)))


def test_mix_seed_is_order_sensitive_and_63_bit() -> None:
    assert mix_seed(1, 2) != mix_seed(2, 1)
    assert all(0 <= mix_seed(*k) < 2**63 for k in [(0,), (2**70, -1), (5, 6, 7)])
    assert stream_id("tokens") == stream_id("tokens") != stream_id("view0")
    assert stream_id(7) == 7


def test_global_rows_single_process() -> None:
    rows = global_rows(5)
    assert (rows.total, rows.start, rows.stop) == (5, 0, 5)
    assert torch.arange(5)[rows.rows].tolist() == [0, 1, 2, 3, 4]


def test_global_rows_micro_batches_tile_the_step_batch() -> None:
    parts = [global_rows(4, micro=m, accum=3) for m in range(3)]
    assert {p.total for p in parts} == {12}
    assert [list(range(p.start, p.stop)) for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(ValueError, match="micro-batch index 3"):
        global_rows(4, micro=3, accum=3)


def test_task_generator_is_keyed_by_seed_and_step_and_rows_by_micro() -> None:
    task = Task()
    task.seed, task.micro, task.accum = 3, 1, 2
    got = torch.rand(4, generator=task.generator(10, "tokens"))
    assert torch.equal(got, torch.rand(4, generator=step_generator(3, 10, 0, "tokens")))
    assert task.rows(5).rows == slice(5, 10)
