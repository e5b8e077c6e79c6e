"""Video ViT options: CLS token without position, position tables for other grids, no-position tokens and
the FLOPs of a sparse forward (only kept tubelets are embedded)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sparse_core.bench import count_flops
from sparse_core.masking import random_keep_indices
from sparse_core.models import VideoViT
from sparse_core.models.pos_embed import sinusoid_1d_table
from sparse_core.models.token_ops import embed_kept_patches

ARCH = dict(img_size=32, num_frames=4, tubelet_size=2, patch_size=8, embed_dim=64, depth=2, num_heads=4)


def block_input(model: VideoViT, x: torch.Tensor, keep_idx: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, no_pos: torch.Tensor | None = None) -> torch.Tensor:
    """What ``forward_features`` feeds to the blocks: CLS (if any), then the selected, positioned tokens."""
    with torch.no_grad():
        return model._prepare_tokens(x, keep_idx, None, mask, no_pos)


@pytest.mark.parametrize("pos_type", ["sincos", "learned"])
def test_class_token_has_no_position_and_is_pooled(pos_type: str) -> None:
    torch.manual_seed(0)
    model = VideoViT(**ARCH, pos_embed_type=pos_type, class_token=True, mask_token=True, use_mean_pooling=False).eval()
    assert model.num_prefix_tokens == 1 and model.cls_token.shape == (1, 1, 64)
    assert "cls_token" in model.no_weight_decay() and float(model.cls_token.detach().std()) > 0  # trunc-normal init
    x = torch.randn(2, 3, 4, 32, 32)
    keep = torch.tensor([[0, 5, 17, 31], [1, 2, 3, 4]])
    mask = torch.zeros(2, 32, dtype=torch.bool)
    mask[:, 5] = True
    got = block_input(model, x, keep_idx=keep, mask=mask)  # (B, 1 + K, D)
    with torch.no_grad():
        emb, _ = model.patch_embed(x)  # conv over every tubelet
        emb = torch.where(mask[..., None], model.mask_token, emb).gather(1, keep[..., None].expand(-1, -1, 64))
        pos = model.pos_embed.expand(2, -1, -1).gather(1, keep[..., None].expand(-1, -1, 64))
    assert got.shape == (2, 5, 64)
    assert torch.equal(got[:, 0], model.cls_token[0].expand(2, -1))  # the CLS token alone: no position
    torch.testing.assert_close(got[:, 1:], emb + pos, atol=1e-5, rtol=0)
    with torch.no_grad():
        feats = model.forward_features(x, keep_idx=keep)
        assert feats.shape == (2, 5, 64)
        # "avg" pools the patch tokens only; "token" takes the CLS output
        torch.testing.assert_close(model.forward_head(feats), feats[:, 1:].mean(1))
        model.global_pool = "token"
        assert torch.equal(model.forward_head(feats), feats[:, 0])
        attn = model.get_last_selfattention(x, keep_idx=keep)
    assert attn.shape == (2, 4, 5, 5) and torch.allclose(attn.sum(-1), torch.ones(2, 4, 5), atol=1e-5)
    with pytest.raises(ValueError, match="global_pool"):
        VideoViT(**ARCH, global_pool="token")


def test_without_class_token_the_init_is_unchanged() -> None:
    """The CLS token is drawn last: the other weights equal a model without one (same seed)."""
    torch.manual_seed(3)
    plain = VideoViT(**ARCH, pos_embed_type="learned")
    torch.manual_seed(3)
    with_cls = VideoViT(**ARCH, pos_embed_type="learned", class_token=True)
    sd = with_cls.state_dict()
    assert list(sd)[0] == "cls_token" and set(sd) - set(plain.state_dict()) == {"cls_token"}
    assert all(torch.equal(v, sd[k]) for k, v in plain.state_dict().items())


def reference_trilinear(table: torch.Tensor, own: tuple[int, int, int], grid: tuple[int, int, int]) -> torch.Tensor:
    """Trilinear resampling of a time-major (1, T'*Hp*Wp, D) table, with the field built index by index."""
    t, h, w = own
    dim = table.shape[-1]
    field = torch.empty(1, dim, t, h, w)
    for i in range(t * h * w):
        field[0, :, i // (h * w), (i // w) % h, i % w] = table[0, i]
    out = F.interpolate(field, size=grid, mode="trilinear", align_corners=False)
    return torch.stack([out[0, :, a, b, c] for a in range(grid[0]) for b in range(grid[1]) for c in range(grid[2])])[
        None
    ]


@pytest.mark.parametrize("pos_type", ["sincos", "learned"])
def test_position_tables_for_other_grids(pos_type: str) -> None:
    torch.manual_seed(0)
    arch = {**ARCH, "num_frames": 8}  # own grid (4, 4, 4)
    native = VideoViT(**arch, pos_embed_type=pos_type)
    tri = VideoViT(**arch, pos_embed_type=pos_type, pos_resample="trilinear")
    tri.load_state_dict(native.state_dict())
    small = (2, 2, 2)
    assert torch.equal(tri.pos_embed_for(tri.token_grid), tri.pos_embed)
    torch.testing.assert_close(tri.pos_embed_for(small), reference_trilinear(tri.pos_embed, (4, 4, 4), small))
    if pos_type == "sincos":  # VideoMAE's recomputed 1-D table
        assert torch.equal(native.pos_embed_for(small), sinusoid_1d_table(8, 64)[None])
    else:  # a learned table is resampled either way
        assert torch.equal(native.pos_embed_for(small), tri.pos_embed_for(small))
    # a clip of the small grid gets the resampled table, in the kept-token path too
    x = torch.randn(2, 3, 4, 16, 16)
    keep = torch.tensor([[0, 3, 6], [1, 2, 7]])
    with torch.no_grad():
        emb, grid = tri.patch_embed(x)
        assert grid == small == tri.grid_of(4, 16, 16)
        table = tri.pos_embed_for(small)
        torch.testing.assert_close(block_input(tri, x), emb + table, atol=1e-6, rtol=0)
        expected = (emb + table).gather(1, keep[..., None].expand(-1, -1, 64))
        torch.testing.assert_close(block_input(tri, x, keep_idx=keep), expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="pos_resample"):
        VideoViT(**ARCH, pos_resample="nearest")


def test_no_pos_tokens_get_only_their_content() -> None:
    torch.manual_seed(0)
    model = VideoViT(**ARCH, pos_embed_type="learned", class_token=True).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    keep = torch.tensor([[0, 5, 17, 31]] * 2)
    no_pos = torch.tensor([[False, True, False, False], [False, False, False, True]])
    got = block_input(model, x, keep_idx=keep, no_pos=no_pos)
    with torch.no_grad():
        emb = embed_kept_patches(x, model.patch_embed.proj, keep)
        pos = model.pos_embed.expand(2, -1, -1).gather(1, keep[..., None].expand(-1, -1, 64))
    torch.testing.assert_close(got[:, 1:], torch.where(no_pos[..., None], emb, emb + pos), atol=1e-6, rtol=0)


def test_flops_at_85_percent_drop() -> None:
    """Forward + backward FLOPs of a 16 x 112^2 clip (392 tubelets) fall with the kept tokens, embedding included."""
    model = VideoViT(img_size=112, num_frames=16, patch_size=16, embed_dim=96, depth=2, num_heads=2, class_token=True)
    x = torch.randn(2, 3, 16, 112, 112)
    keep = random_keep_indices(2, model.num_patches, 0.15, torch.Generator().manual_seed(0))
    dense = count_flops(lambda: model.forward_features(x).sum().backward())
    sparse = count_flops(lambda: model.forward_features(x, keep_idx=keep).sum().backward())
    assert sparse <= 0.2 * dense, sparse / dense
    embed = count_flops(lambda: embed_kept_patches(x, model.patch_embed.proj, keep))
    assert embed <= 0.2 * count_flops(lambda: model.patch_embed(x))
