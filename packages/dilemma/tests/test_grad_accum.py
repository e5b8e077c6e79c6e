"""Gradient accumulation: ``train.grad_accum = 2`` gives the gradient of one step on the whole batch.

The check runs the MAE variant (+ the DILEMMA token loss) because both of its losses are per-sample means with
the same number of terms per sample, so the mean of the two micro-batch losses is the whole-batch loss; the
contrastive variants mix samples through their negatives and MoCo v3's BN heads, so their micro-batch loss is
a different function by design. The step is driven as the Trainer does: ``task(batch, step, micro)`` with
``task.accum`` set, each micro-batch loss divided by the number of micro-batches.
"""

from __future__ import annotations

import copy

import pytest
import torch
from dilemma_test_utils import fixed_views, tiny_method, tiny_model

from dilemma_ssl.mismatch import CorruptedTokens
from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants import TASKS

STEP = 3


class _Recorded:
    """Wraps ``draw_tokens`` of a task to keep every corruption it hands out."""

    def __init__(self, task: torch.nn.Module) -> None:
        self.seen: list[CorruptedTokens] = []
        draw = task.draw_tokens

        def recording(*args: object, **kwargs: object) -> CorruptedTokens:
            corr = draw(*args, **kwargs)
            self.seen.append(corr)
            return corr

        task.draw_tokens = recording  # type: ignore[method-assign]


def _accumulate(task: torch.nn.Module, micro_batches: list[dict[str, object]]) -> dict[str, torch.Tensor]:
    task.accum = len(micro_batches)
    for micro, batch in enumerate(micro_batches):
        out = task(batch, STEP, micro)
        (out["loss"] / task.accum).backward()
    return {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}


def test_two_micro_batches_give_the_whole_batch_gradient() -> None:
    torch.manual_seed(0)
    whole = TASKS["mae"](tiny_model(), tiny_method(variant="mae"), SparsitySchedule.constant(8, 0.75), seed=5)
    accum = copy.deepcopy(whole)
    rec_whole, rec_accum = _Recorded(whole), _Recorded(accum)
    batch = fixed_views("mae", batch=8)
    halves = [{"views": [v[i * 4 : (i + 1) * 4] for v in batch["views"]]} for i in range(2)]

    ref = _accumulate(whole, [batch])
    got = _accumulate(accum, halves)

    first, second = rec_accum.seen
    assert first.keep_idx.shape == (4, 4) and float(first.labels.sum()) > 0  # sparse and mismatched
    assert not torch.equal(first.keep_idx, second.keep_idx) or not torch.equal(first.pos_idx, second.pos_idx)
    (full,) = rec_whole.seen  # the micro-batches hold the rows of the whole-batch draw, in order
    for name in ("keep_idx", "pos_idx", "labels"):
        assert torch.equal(torch.cat([getattr(first, name), getattr(second, name)]), getattr(full, name))
    assert ref.keys() == got.keys() and len(ref) > 0
    for name, g in ref.items():
        torch.testing.assert_close(got[name], g, atol=1e-6, rtol=1e-5, msg=name)


def test_micro_batches_of_one_step_never_repeat_a_pattern() -> None:
    torch.manual_seed(0)
    task = TASKS["mocov3"](tiny_model(), tiny_method(), SparsitySchedule.constant(8, 0.5), seed=0)
    rec = _Recorded(task)
    task.accum = 4
    batch = fixed_views("mocov3", batch=2)
    with torch.no_grad():
        for micro in range(4):
            task(batch, STEP, micro)
    patterns = {(tuple(c.keep_idx.flatten().tolist()), tuple(c.pos_idx.flatten().tolist())) for c in rec.seen}
    assert len(patterns) == len(rec.seen) == 8  # 4 micro-batches x 2 views, all different


@pytest.mark.parametrize("policy", ["random", "attention"])
def test_micro_batches_take_their_rows_of_the_whole_batch_draw(policy: str) -> None:
    """Also under the attention policy, whose kept tokens are chosen per sample (only the mismatch is drawn)."""
    torch.manual_seed(0)
    whole = TASKS["mocov3"](tiny_model(), tiny_method(drop_policy=policy), SparsitySchedule.constant(8, 0.5))
    accum = copy.deepcopy(whole)
    rec_whole, rec_accum = _Recorded(whole), _Recorded(accum)
    batch = fixed_views("mocov3", batch=6)
    with torch.no_grad():
        whole(batch, STEP, 0)
        accum.accum = 2
        for micro in range(2):
            accum({"views": [v[micro * 3 : (micro + 1) * 3] for v in batch["views"]]}, STEP, micro)
    for view in range(2):  # recorded order: micro 0 (view 0, view 1), micro 1 (view 0, view 1)
        full, first, second = rec_whole.seen[view], rec_accum.seen[view], rec_accum.seen[2 + view]
        assert float(full.labels.sum()) > 0
        for name in ("keep_idx", "pos_idx", "labels"):
            assert torch.equal(torch.cat([getattr(first, name), getattr(second, name)]), getattr(full, name))
