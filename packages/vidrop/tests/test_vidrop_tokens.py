"""Drop + mask bookkeeping: kept vs dropped vs masked tokens, and where the patch loss is taken."""

from __future__ import annotations

import pytest
import torch
from vidrop_testutils import make_batch, tiny_config

from vidrop.task import ViDROPTask
from vidrop.tokens import DROP_PATTERNS, StudentTokens, keep_indices, sample_student_tokens


@pytest.mark.parametrize("pattern", DROP_PATTERNS)
def test_keep_indices_fixed_count_sorted_unique(pattern: str) -> None:
    g = torch.Generator().manual_seed(0)
    keep = keep_indices(8, (4, 6, 6), 0.85, pattern, g)
    n = 4 * 6 * 6
    assert keep.dtype == torch.long and keep.shape[0] == 8
    assert abs(keep.shape[1] - 0.15 * n) <= 4 * 1 + 1  # tube/block round per frame
    assert (keep.diff(dim=1) > 0).all() and keep.min() >= 0 and keep.max() < n
    if pattern == "tube":  # the same spatial positions survive in every frame
        spatial = [set((keep[0][keep[0] // 36 == t] % 36).tolist()) for t in range(4)]
        assert all(s == spatial[0] for s in spatial)


def test_masked_tokens_are_kept_tokens_in_half_of_the_clips() -> None:
    g = torch.Generator().manual_seed(1)
    t = sample_student_tokens(10, (2, 8, 8), drop_ratio=0.75, mask_ratio=(0.1, 0.4), mask_sample_fraction=0.5,
                              generator=g)
    k = t.keep_idx.shape[1]
    assert k == 32
    assert not (t.mask & ~t.kept).any()  # masked subset of kept
    assert int(t.kept.sum()) == 10 * k
    per_clip = t.mask_kept.sum(1)
    assert int((per_clip > 0).sum()) == 5  # exactly half of the clips is masked
    ratios = per_clip[per_clip > 0].float() / k
    assert ((ratios >= 0.1 - 1 / k) & (ratios <= 0.4 + 1 / k)).all()
    # (clip, position) of masked tokens in the student's order equals the dense mask's row-major order
    pos = t.masked_positions()
    assert torch.equal(pos, t.mask.nonzero())


def test_drop_ratio_zero_is_dense_and_no_mask_range_disables_masking() -> None:
    t = sample_student_tokens(4, (2, 4, 4), drop_ratio=0.0, mask_ratio=(0.0, 0.0))
    assert torch.equal(t.keep_idx, torch.arange(32).expand(4, 32))
    assert not t.mask_kept.any()


def test_same_draw_for_same_seed_and_step() -> None:
    task = ViDROPTask(tiny_config(), total_steps=10)
    a = task.draw_tokens(4, 2, (2, 4, 4), step=3)
    b = task.draw_tokens(4, 2, (2, 4, 4), step=3)
    c = task.draw_tokens(4, 2, (2, 4, 4), step=4)
    assert torch.equal(a.keep_idx, b.keep_idx) and torch.equal(a.mask_kept, b.mask_kept)
    assert not torch.equal(a.keep_idx, c.keep_idx)


def test_student_sees_mask_token_exactly_at_masked_positions() -> None:
    """The encoder replaces masked kept tokens by MSK and leaves the other kept tokens alone."""
    task = ViDROPTask(tiny_config(), total_steps=10)
    enc = task.encoder
    x = torch.randn(6, 3, 4, 16, 16)
    t = sample_student_tokens(6, enc.token_grid, 0.5, mask_ratio=(0.3, 0.3), mask_sample_fraction=0.5,
                              generator=torch.Generator().manual_seed(0))
    seen = {}
    hook = enc.vit.blocks[0].register_forward_pre_hook(lambda m, a: seen.setdefault("x", a[0].detach()))
    enc(x, keep_idx=t.keep_idx, mask=t.mask)
    hook.remove()
    tokens = seen["x"][:, 1:]  # drop CLS: (B, K, D)
    emb, _ = enc.vit.patch_embed(x)
    pos = enc.pos_embed_for(enc.token_grid).expand(6, -1, -1)
    gather = lambda z: z.gather(1, t.keep_idx[..., None].expand(-1, -1, z.shape[-1]))
    expected = torch.where(t.mask_kept[..., None], enc.vit.mask_token + gather(pos), gather(emb + pos))
    torch.testing.assert_close(tokens, expected)


def _task_and_random_tokens(mask_kept: torch.Tensor, n: int) -> tuple[ViDROPTask, StudentTokens]:
    """A tiny task (after ``torch.manual_seed(0)``) and tokens keeping ``K`` random sorted positions of ``n``.

    Shape:
        mask_kept: (B, K) bool, True where a kept token is replaced by MSK.
    """
    torch.manual_seed(0)
    task = ViDROPTask(tiny_config(), total_steps=10)
    b, k = mask_kept.shape
    keep = torch.stack([torch.randperm(n)[:k].sort().values for _ in range(b)])
    return task, StudentTokens(keep, mask_kept, n)


def test_patch_loss_only_on_masked_tokens() -> None:
    """Changing teacher outputs at unmasked positions or student outputs of unmasked tokens changes nothing."""
    b, k, n, d = 4, 8, 16, 48
    mask_kept = torch.zeros(b, k, dtype=torch.bool)
    mask_kept[0, :3] = True
    mask_kept[2, 5:] = True
    task, tok = _task_and_random_tokens(mask_kept, n)
    s = torch.randn(b, k, d, requires_grad=True)
    t = torch.randn(b, n, d)
    base = task.patch_loss(s, t, tok, 0.07)
    t2 = t.clone()
    t2[~tok.mask] += 5.0 * torch.randn(int((~tok.mask).sum()), d)
    s2 = s.detach().clone()
    s2[~mask_kept] += 5.0
    torch.testing.assert_close(task.patch_loss(s2, t2, tok, 0.07), base)
    t3 = t.clone()
    t3[tok.mask] += 1.0 * torch.randn(int(tok.mask.sum()), d)
    assert not torch.allclose(task.patch_loss(s, t3, tok, 0.07), base)
    base.backward()
    assert (s.grad[~mask_kept] == 0).all() and (s.grad[mask_kept].abs().sum(-1) > 0).all()


def test_masked_targets_come_from_the_teacher_at_the_same_position() -> None:
    """A teacher output that is a function of position only: loss is minimal iff the student matches it there."""
    b, k, n, d = 2, 6, 12, 48
    task, tok = _task_and_random_tokens(torch.ones(b, k, dtype=torch.bool), n)
    keep = tok.keep_idx
    t = torch.randn(1, n, d).expand(b, n, d)
    aligned = t.gather(1, keep[..., None].expand(-1, -1, d))  # student token k := teacher at keep_idx[k]
    shuffled = aligned.roll(1, dims=1)
    assert task.patch_loss(aligned, t, tok, 0.1) < task.patch_loss(shuffled, t, tok, 0.1)


def test_full_step_uses_mask_only_in_ibot(monkeypatch: pytest.MonkeyPatch) -> None:
    for variant, expect_mask in (("ibot", True), ("stare", False), ("dino", False)):
        task = ViDROPTask(tiny_config(variant=variant), total_steps=10)
        calls = []
        orig = task.student["backbone"].forward

        def spy(x, keep_idx=None, mask=None, _orig=orig, _calls=calls):
            _calls.append((keep_idx is not None, mask is not None))
            return _orig(x, keep_idx=keep_idx, mask=mask)

        monkeypatch.setattr(task.student["backbone"], "forward", spy)
        out = task.training_step(make_batch(task.cfg, 4), 0)
        assert calls[0] == (True, expect_mask)  # large clips: dropped (+ masked for ibot)
        assert calls[1] == (False, False)  # small clips: dense
        assert ("ibot_loss" in out) == (variant != "dino")


def test_micro_batch_draws_are_the_rows_of_the_whole_batch_draw() -> None:
    """``grad_accum = 2``: each micro-batch keeps its samples' columns of one whole-step draw (view-major)."""
    task = ViDROPTask(tiny_config(), total_steps=10)
    grid, views = (2, 4, 4), 2
    whole = task.draw_tokens(8, views, grid, step=3)
    k = whole.keep_idx.shape[1]
    task.accum = 2
    for m in range(2):
        task.micro = m
        part = task.draw_tokens(4, views, grid, step=3)
        cols = slice(4 * m, 4 * m + 4)
        assert torch.equal(part.keep_idx, whole.keep_idx.view(views, 8, k)[:, cols].reshape(-1, k))
        assert torch.equal(part.mask_kept, whole.mask_kept.view(views, 8, k)[:, cols].reshape(-1, k))
    task.micro = 0
    first, second = task.draw_tokens(4, views, grid, step=3), part
    assert not torch.equal(first.keep_idx, second.keep_idx)  # micro-batches do not repeat a pattern
