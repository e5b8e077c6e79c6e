"""One SF-CLIP step on 2 gloo processes equals the step on 1 process (CLIP negatives and distillation subset),
also when one process's share of a distillation subset is empty (1 distilled row of 16)."""

from __future__ import annotations

import pytest
import torch
from sfclip_test_utils import tiny_config

from sfclip.data import ShapePairs
from sfclip.task import SFCLIPTask
from sparse_core.engine.seeding import seeded

BATCH = 16
DISTILL = {
    "quarter": {"image_ratio": 0.25, "text_ratio": 0.25},
    # one row of each subset: the other process distils nothing (its student still runs on 0 rows)
    "one_row": {"image_ratio": 1 / BATCH, "text_ratio": 1 / BATCH, "image_mask_ratio": 0.5},
}


def _step(rank: int, world: int, distill: str) -> tuple[dict[str, float], dict[str, torch.Tensor], int, int]:
    with seeded(0):
        task = SFCLIPTask(tiny_config(**DISTILL[distill]))
    data = ShapePairs(BATCH, 32, seed=2)
    b = BATCH // world
    samples = [data[i] for i in range(rank * b, (rank + 1) * b)]
    batch = {"image": torch.stack([s["image"] for s in samples]), "caption": [s["caption"] for s in samples]}
    out = task.training_step(batch, step=4)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.requires_grad}  # None: DDP would fail
    losses = {k: v.item() for k, v in out.items() if k in ("loss", "clip", "vd", "td")}
    return losses, grads, task.vision_teachers["dinov2_tiny_random"].rows_seen, task.text_teacher.rows_seen


@pytest.mark.parametrize("distill", list(DISTILL))
def test_two_processes_equal_one_process(distill: str) -> None:
    from sparse_core.testing import run_distributed

    single, grads, seen_v, seen_t = _step(0, 1, distill)
    ranks = run_distributed(_step, distill, world_size=2)
    for key, value in single.items():  # mean over ranks of the local losses = the single-process loss
        assert abs(sum(r[0][key] for r in ranks) / 2 - value) < 1e-4, key
    for name, g in grads.items():  # DDP's average of the rank gradients = the single-process gradient
        torch.testing.assert_close((ranks[0][1][name] + ranks[1][1][name]) / 2, g, atol=1e-5, rtol=1e-4)
    rows = round(DISTILL[distill]["image_ratio"] * BATCH)
    assert seen_v == rows and seen_t == rows  # the subset of the global batch, split between the ranks
    assert sum(r[2] for r in ranks) == rows and sum(r[3] for r in ranks) == rows
    if rows == 1:
        assert sorted(r[2] for r in ranks) == [0, 1] and sorted(r[3] for r in ranks) == [0, 1]
