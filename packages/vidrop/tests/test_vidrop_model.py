"""The ViDROP encoder over VideoViT: the same numbers and state-dict keys as the former encoder (which
patch-embedded every tubelet, then selected), and a student whose FLOPs fall with the drop rate."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from vidrop_testutils import tiny_config

from sparse_core.bench import count_flops
from sparse_core.models import VideoViT
from sparse_core.models.token_ops import select_tokens
from vidrop.config import EncoderConfig
from vidrop.model import ViDROPEncoder, build_encoder
from vidrop.tokens import sample_student_tokens


def old_pos_embed_for(enc: ViDROPEncoder, grid: tuple[int, int, int]) -> torch.Tensor:
    """The former ``pos_embed_for``: the own table, or it trilinearly resampled as a (T', Hp, Wp) field."""
    base, own = enc.vit.pos_embed, enc.vit.token_grid
    if tuple(grid) == tuple(own):
        return base
    pos = base.reshape(1, *own, enc.embed_dim).permute(0, 4, 1, 2, 3).float()
    pos = F.interpolate(pos, size=grid, mode="trilinear", align_corners=False)
    return pos.permute(0, 2, 3, 4, 1).flatten(1, 3).to(base.dtype)


def old_forward(enc: ViDROPEncoder, x: torch.Tensor, keep_idx: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The former forward: conv over every tubelet, select/mask/position, prepend CLS, blocks, norm."""
    vit = enc.vit
    tokens, grid = vit.patch_embed(x)  # (B, N, D)
    tokens = select_tokens(tokens, old_pos_embed_for(enc, grid), keep_idx, None, mask, vit.mask_token)
    h = torch.cat([enc.cls_token.expand(tokens.shape[0], -1, -1).to(tokens.dtype), tokens], dim=1)
    h = vit.norm(vit.blocks(h))
    return h[:, 0], h[:, 1:]


@pytest.mark.parametrize("pos_type", ["sincos", "learned"])
def test_forward_equals_the_former_formula(pos_type: str) -> None:
    cfg = tiny_config().encoder
    cfg.pos_embed_type = pos_type
    torch.manual_seed(0)
    enc = build_encoder(cfg).eval()
    with torch.no_grad():
        enc.vit.mask_token.normal_()
        if pos_type == "learned":
            enc.vit.pos_embed.normal_()
    x = torch.randn(4, 3, 4, 16, 16)  # grid (2, 4, 4): 32 tokens
    toks = sample_student_tokens(4, enc.token_grid, 0.75, mask_ratio=(0.3, 0.5), mask_sample_fraction=1.0,
                                 generator=torch.Generator().manual_seed(1))
    assert toks.mask_kept.any()
    with torch.no_grad():
        for new, old in zip(enc(x), old_forward(enc, x)):  # dense: the same ops, bit for bit
            assert torch.equal(new, old)
        for kw in ({"keep_idx": toks.keep_idx}, {"keep_idx": toks.keep_idx, "mask": toks.mask}):
            new, old = enc(x, **kw), old_forward(enc, x, **kw)
            assert new[1].shape == (4, toks.keep_idx.shape[1], cfg.embed_dim)
            for a, b in zip(new, old):  # kept tubelets embedded by a matmul instead of the conv
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        small = torch.randn(4, 3, 2, 8, 8)  # a local clip: grid (1, 2, 2), resampled positions
        assert enc.grid_of(2, 8) == (1, 2, 2)
        torch.testing.assert_close(enc.pos_embed_for((1, 2, 2)), old_pos_embed_for(enc, (1, 2, 2)))
        for new, old in zip(enc(small), old_forward(enc, small)):
            assert torch.equal(new, old)
        feats = enc.features(x)
        torch.testing.assert_close(feats, torch.cat([old_forward(enc, x)[0], old_forward(enc, x)[1].mean(1)], -1))


def test_state_dict_keys_and_parameters_unchanged() -> None:
    torch.manual_seed(0)
    enc = build_encoder(tiny_config().encoder)
    sd = enc.state_dict()
    vit_keys = [k for k in enc.vit.state_dict() if k != "cls_token"]
    assert list(sd) == ["cls_token", *(f"vit.{k}" for k in vit_keys)]  # the former layout and order
    assert sd["cls_token"] is not None and torch.equal(sd["cls_token"], enc.vit.cls_token)
    other = build_encoder(tiny_config().encoder)
    other.load_state_dict(sd)  # strict: a saved cls_token lands in the VideoViT's
    assert torch.equal(other.cls_token, enc.cls_token) and other.cls_token is other.vit.cls_token
    # nested (as in the task's student / teacher), keys keep their prefix
    outer = torch.nn.ModuleDict({"backbone": enc})
    assert "backbone.cls_token" in outer.state_dict() and "backbone.vit.cls_token" not in outer.state_dict()
    torch.nn.ModuleDict({"backbone": other}).load_state_dict(outer.state_dict())
    names = [n for n, _ in enc.named_parameters()]
    assert names[0] == "vit.cls_token" and {"vit.cls_token", "vit.mask_token"} <= enc.no_weight_decay()
    with pytest.raises(ValueError, match="class_token"):
        ViDROPEncoder(VideoViT(img_size=16, num_frames=4, patch_size=4, embed_dim=48, depth=1, num_heads=2))


def test_student_flops_at_85_percent_drop() -> None:
    """Forward + backward FLOPs of the student encoder on 16 x 112^2 clips (tubelet 2, patch 16: 392 tokens)
    at 85 % drop (with MSK tokens, as the 'ibot' student) are at most 0.2 of the dense encoder's."""
    cfg = EncoderConfig(img_size=112, num_frames=16, tubelet_size=2, patch_size=16, embed_dim=96, depth=2,
                        num_heads=2, drop_path_rate=0.0)
    enc = build_encoder(cfg).train()
    x = torch.randn(2, 3, 16, 112, 112)
    toks = sample_student_tokens(2, enc.token_grid, 0.85, generator=torch.Generator().manual_seed(0))
    assert enc.token_grid == (8, 7, 7) and toks.keep_idx.shape[1] <= 0.15 * 392 + 1

    def step(**kw: torch.Tensor) -> None:
        cls, patch = enc(x, **kw)
        (cls.sum() + patch.sum()).backward()

    dense = count_flops(step)
    sparse = count_flops(lambda: step(keep_idx=toks.keep_idx, mask=toks.mask))
    assert sparse <= 0.2 * dense, sparse / dense
    # the former encoder, which ran the conv on every tubelet, pays more than the kept-token share
    old = count_flops(lambda: sum(t.sum() for t in old_forward(enc, x, toks.keep_idx, toks.mask)).backward())
    assert sparse < old
