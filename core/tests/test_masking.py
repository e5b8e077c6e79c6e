"""Masking utilities: shapes, counts, sortedness, reproducibility and the semantics of each pattern."""

from __future__ import annotations

import pytest
import torch

from sparse_core import masking as M


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    ("n", "ratio", "k"),
    [
        (196, 1.0, 196),
        (196, 0.5, 98),
        (196, 0.35, 69),
        (196, 0.15, 29),
        (196, 0.05, 10),
        (196, 0.001, 1),
        (10, 0.25, 3),
        (10, 0.35, 4),
        (10, 0.45, 5),
    ],
)
def test_num_keep_rounds_half_up(n: int, ratio: float, k: int) -> None:
    assert M.num_keep(n, ratio) == k
    assert M.random_keep_indices(3, n, ratio, gen()).shape == (3, k)


def test_random_keep_indices_sorted_distinct_uniform_and_reproducible() -> None:
    idx = M.random_keep_indices(64, 50, 0.3, gen(1))
    assert idx.dtype == torch.long and idx.shape == (64, 15)
    assert (idx[:, 1:] > idx[:, :-1]).all()  # sorted and distinct
    assert idx.min() >= 0 and idx.max() < 50
    assert torch.equal(idx, M.random_keep_indices(64, 50, 0.3, gen(1)))
    assert not torch.equal(idx, M.random_keep_indices(64, 50, 0.3, gen(2)))
    counts = torch.bincount(M.random_keep_indices(2000, 50, 0.3, gen(3)).flatten(), minlength=50).float()
    assert counts.min() > 0.8 * counts.mean() and counts.max() < 1.2 * counts.mean()  # every token equally likely
    with pytest.raises(ValueError):
        M.random_keep_indices(1, 10, 0.0)


def test_sample_ratios() -> None:
    choices = (0.05, 0.15, 0.35)
    one = M.sample_ratios(1, choices, gen())
    assert isinstance(one, float) and one in choices
    many = M.sample_ratios(3000, choices, gen())
    assert many.shape == (3000,)
    freq = torch.stack([(many == torch.tensor(c)).float().mean() for c in choices])
    assert torch.allclose(freq, torch.full((3,), 1 / 3), atol=0.04)
    assert torch.equal(many, M.sample_ratios(3000, choices, gen()))
    biased = M.sample_ratios(2000, choices, gen(), probs=(0.0, 0.0, 1.0))
    assert (biased == torch.tensor(0.35)).all()


@pytest.mark.parametrize("theta", [0.0, 0.1, 0.25, 0.5])
def test_mismatch_positions(theta: float) -> None:
    n = 49
    keep = M.random_keep_indices(32, n, 0.3, gen(4))  # K = 15
    pos, labels = M.mismatch_positions(keep, n, theta, gen(5))
    assert pos.shape == labels.shape == keep.shape and pos.dtype == torch.long and labels.dtype == torch.float32
    wrong = pos != keep
    assert torch.equal(labels.bool(), wrong)  # labels mark exactly the changed positions
    m = int(theta * 15 + 0.5)
    assert (labels.sum(1) == m).all()  # theta of the kept tokens, rounded half up
    kept_mask = M.indices_to_mask(keep, n)
    for b in range(32):
        new = pos[b][wrong[b]]
        assert not kept_mask[b, new].any()  # wrong positions come from dropped tokens
        assert new.unique().numel() == new.numel()  # each dropped position used at most once
    again = M.mismatch_positions(keep, n, theta, gen(5))
    assert torch.equal(again[0], pos) and torch.equal(again[1], labels)


def test_mismatch_is_capped_by_dropped_tokens() -> None:
    keep = M.random_keep_indices(4, 10, 0.8, gen())  # K = 8, only 2 dropped
    pos, labels = M.mismatch_positions(keep, 10, 1.0, gen())
    assert (labels.sum(1) == 2).all()
    full = torch.arange(10).expand(3, -1)
    pos, labels = M.mismatch_positions(full, 10, 0.5, gen())
    assert torch.equal(pos, full) and labels.sum() == 0


def test_random_token_mask_ratio_range() -> None:
    mask = M.random_token_mask(500, 100, (0.1, 0.5), gen(6))
    assert mask.shape == (500, 100) and mask.dtype == torch.bool
    frac = mask.float().mean(1)
    assert frac.min() >= 0.1 and frac.max() <= 0.5
    assert frac.std() > 0.05  # ratios differ per sample
    assert torch.equal(mask, M.random_token_mask(500, 100, (0.1, 0.5), gen(6)))
    fixed = M.random_token_mask(20, 30, (0.4, 0.4), gen())
    assert (fixed.sum(1) == 12).all()


def test_tube_mask_same_over_time() -> None:
    mask = M.tube_mask(8, 4, 7, 7, 0.9, gen(7))
    assert mask.shape == (8, 4 * 49) and mask.dtype == torch.bool
    per_t = mask.view(8, 4, 49)
    assert (per_t == per_t[:, :1]).all()
    assert (per_t[:, 0].sum(1) == 44).all()  # floor(0.9 * 49 + 0.5)
    assert not (per_t[0, 0] == per_t[1, 0]).all()
    assert torch.equal(mask, M.tube_mask(8, 4, 7, 7, 0.9, gen(7)))
    keep = M.keep_indices_from_mask(mask)
    assert keep.shape == (8, 4 * 5) and (keep[:, 1:] > keep[:, :-1]).all()
    assert not mask.gather(1, keep).any()


def _masked_neighbours(mask2d: torch.Tensor) -> float:
    """Mean number of masked 4-neighbours of masked tokens."""
    m = torch.nn.functional.pad(mask2d.float(), (1, 1, 1, 1))
    nb = m[:-2, 1:-1] + m[2:, 1:-1] + m[1:-1, :-2] + m[1:-1, 2:]
    return float(nb[mask2d].mean())


@pytest.mark.parametrize("ratio", [0.1, 0.4, 0.75])
def test_block_mask_exact_ratio_and_blocky(ratio: float) -> None:
    mask = M.block_mask(16, 14, 14, ratio, gen(8))
    assert mask.shape == (16, 196) and mask.dtype == torch.bool
    assert (mask.sum(1) == int(ratio * 196 + 0.5)).all()
    random = M.random_token_mask(16, 196, (ratio, ratio), gen(8))
    blocky = sum(_masked_neighbours(m.view(14, 14)) for m in mask) / 16
    scattered = sum(_masked_neighbours(m.view(14, 14)) for m in random) / 16
    assert blocky > scattered + 0.5
    assert torch.equal(mask, M.block_mask(16, 14, 14, ratio, gen(8)))


def test_block_mask_over_time_and_device_independence() -> None:
    mask = M.block_mask(3, 8, 8, 0.5, gen(9), grid_t=4)
    assert mask.shape == (3, 4 * 64)
    per_t = mask.view(3, 4, 64)
    assert (per_t == per_t[:, :1]).all()
    # results depend only on the generator, not on the requested device
    a = M.random_keep_indices(2, 20, 0.5, gen(1), device="cpu")
    b = M.random_keep_indices(2, 20, 0.5, gen(1), device=torch.device("meta"))
    assert a.shape == b.shape and b.device.type == "meta"
