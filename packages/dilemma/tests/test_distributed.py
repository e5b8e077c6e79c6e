"""Two CPU gloo processes give the loss and gradients of one process holding the whole batch."""

from __future__ import annotations

import pytest
import torch
from dilemma_test_utils import distributed_step, run_fixed_step

from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants import TASKS
from sparse_core.testing import run_distributed


@pytest.mark.parametrize(("variant", "head_norm"), [("mocov3", "none"), ("simclr", "none"), ("mocov3", "syncbn"),
                                                      ("simclr", "syncbn")])
def test_two_processes_match_one(variant: str, head_norm: str) -> None:
    """syncbn: the heads' BN (student, predictor and the teacher's batch statistics) over the global batch."""
    single = run_fixed_step(variant, SparsitySchedule, TASKS, head_norm=head_norm)
    ranks = run_distributed(distributed_step, variant, head_norm, world_size=2)
    assert float(single["token"]) > 0  # the DILEMMA term is part of the comparison
    for r in ranks:
        assert torch.allclose(r["loss"], single["loss"], atol=1e-5), (r["loss"], single["loss"])
        assert torch.allclose(r["token"], single["token"], atol=1e-5)
        assert r["grads"].keys() == single["grads"].keys()
        for name, g in single["grads"].items():  # float32 rounding grows with the gradients (BN heads: up to ~20)
            atol = 1e-5 * max(1.0, float(g.abs().max()))
            assert torch.allclose(r["grads"][name], g, atol=atol, rtol=1e-4), name
        for name, b in single["buffers"].items():  # BN running statistics
            assert torch.allclose(r["buffers"][name], b, atol=1e-6, rtol=1e-5), name


def test_per_process_bn_differs_from_one_process() -> None:
    """head_norm 'bn' normalises with each process' statistics: the gradients are not one process' (so the
    syncbn case above tells the two apart)."""
    single = run_fixed_step("mocov3", SparsitySchedule, TASKS, head_norm="bn")
    ranks = run_distributed(distributed_step, "mocov3", "bn", world_size=2)
    assert any(not torch.allclose(ranks[0]["grads"][n], g, atol=1e-5, rtol=1e-4) for n, g in single["grads"].items())
