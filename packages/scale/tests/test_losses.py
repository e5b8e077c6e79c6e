"""MCM and SET losses against direct formulas written from thesis eq. 4.2-4.8; masking bookkeeping."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from scale_video.losses import mcm_loss, set_loss
from scale_video.masking import draw_clips, num_masked, split_sets


def _ltilde(a: torch.Tensor, bank: torch.Tensor, i: int, tau: float) -> float:
    """Eq. 4.2: -log exp(a . b_i / tau) / sum_j exp(a . b_j / tau), written out with explicit sums."""
    num = math.exp(float(a @ bank[i]) / tau)
    den = sum(math.exp(float(a @ bank[j]) / tau) for j in range(bank.shape[0]))
    return -math.log(num / den)


def test_mcm_matches_direct_formula_with_hard_negatives() -> None:
    g = torch.Generator().manual_seed(0)
    b, s, d, tau = 3, 6, 5, 0.2
    pred, target = torch.randn(b, s, d, generator=g), torch.randn(b, s, d, generator=g)
    mask = torch.zeros(b, s, dtype=torch.bool)
    mask[0, [1, 4]] = True
    mask[1, [0]] = True
    mask[2, [2, 3, 5]] = True
    p = F.normalize(pred, dim=-1).reshape(b * s, d)  # eq. 4.1
    t = F.normalize(target, dim=-1).reshape(b * s, d)
    total = 0.0
    for v in range(b):  # eq. 4.6 per video: every clip of the batch (own video included) is a candidate
        for i in mask[v].nonzero().flatten().tolist():
            r = v * s + i
            total += _ltilde(p[r], t, r, tau) + _ltilde(t[r], p, r, tau)  # eq. 4.3
    expected = total / b  # mean over the videos of the minibatch
    assert mcm_loss(pred, target, mask, tau).item() == pytest.approx(expected, rel=1e-5)


def test_mcm_same_video_clips_are_negatives() -> None:
    """A target equal to another clip of the same video makes the loss larger (it is a hard negative)."""
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(1, 4, 8, generator=g)
    target = pred.clone()
    mask = torch.tensor([[True, False, False, False]])
    easy = mcm_loss(pred, target, mask).item()
    target[0, 1] = pred[0, 0]  # clip 1 of the same video now looks exactly like the masked clip's answer
    assert mcm_loss(pred, target, mask).item() > easy + 0.5


def test_set_matches_direct_formula() -> None:
    g = torch.Generator().manual_seed(2)
    n, d, tau = 5, 7, 0.2
    a, b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    an, bn = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    expected = sum(_ltilde(an[i], bn, i, tau) + _ltilde(bn[i], an, i, tau) for i in range(n)) / n  # eq. 4.4
    assert set_loss(a, b, tau).item() == pytest.approx(expected, rel=1e-5)


def test_split_sets_disjoint_and_complete() -> None:
    sets = split_sets(50, 16, 8, torch.Generator().manual_seed(0))
    assert sets.shape == (50, 2, 8)
    for row in sets:
        assert sorted(row.flatten().tolist()) == list(range(16))
    assert not torch.equal(sets[0], sets[1])


def test_draw_clips_masks_exact_count_per_set() -> None:
    draw = draw_clips(40, 16, 8, 0.25, torch.Generator().manual_seed(0))
    assert draw.mask.shape == (40, 2, 8) and draw.mask.dtype == torch.bool
    assert (draw.mask.sum(-1) == 2).all()  # 25 % of 8
    assert draw.mask.float().mean(0).min() > 0  # every slot gets masked sometimes
    part = draw[slice(10, 20)]
    assert torch.equal(part.sets, draw.sets[10:20]) and torch.equal(part.mask, draw.mask[10:20])


def test_draw_is_a_function_of_the_generator() -> None:
    a = draw_clips(8, 16, 8, 0.25, torch.Generator().manual_seed(3))
    b = draw_clips(8, 16, 8, 0.25, torch.Generator().manual_seed(3))
    assert torch.equal(a.sets, b.sets) and torch.equal(a.mask, b.mask)


@pytest.mark.parametrize(("k", "ratio", "expected"),
                         [(8, 0.25, 2), (8, 0.2, 2), (8, 0.3, 2), (8, 0.32, 3), (4, 0.25, 1), (2, 0.9, 1),
                          (8, 0.0, 0), (8, 0.01, 1), (16, 0.25, 4)])
def test_num_masked(k: int, ratio: float, expected: int) -> None:
    assert num_masked(k, ratio) == expected


def test_bad_sizes_refused() -> None:
    with pytest.raises(ValueError, match="stored clips"):
        split_sets(2, 10, 8)
    with pytest.raises(ValueError, match="mask_ratio"):
        num_masked(8, 1.0)
