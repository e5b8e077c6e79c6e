"""Sparse ViT: equality with timm, token dropping / position override / mask semantics, registry, FLOPs."""

from __future__ import annotations

import pytest
import timm
import torch
from safetensors.torch import save_file

from sparse_core.bench import count_flops
from sparse_core.masking import random_keep_indices
from sparse_core.models import SparseVisionTransformer
from sparse_core.models.pos_embed import sincos_2d_table
from sparse_core.models.token_ops import embed_kept_patches

TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0)
NAMES = [f"sparse_vit_{s}_patch{p}_224" for s in ("tiny", "small", "base", "large") for p in (14, 16)]


def tiny(**kw: object) -> SparseVisionTransformer:
    torch.manual_seed(0)
    return SparseVisionTransformer(**{**TINY, **kw}).eval()


def patchify_permute(x: torch.Tensor, patch: int, perm: torch.Tensor) -> torch.Tensor:
    """Move the content of patch i to location perm[i] (row-major patch order)."""
    b, c, h, w = x.shape
    gh, gw = h // patch, w // patch
    p = x.reshape(b, c, gh, patch, gw, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c, patch, patch)
    out = torch.empty_like(p)
    out[:, perm] = p
    return out.reshape(b, gh, gw, c, patch, patch).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


def test_equals_timm_vit_small_with_same_weights() -> None:
    torch.manual_seed(0)
    ref = timm.create_model("vit_small_patch16_224").eval()
    model = timm.create_model("sparse_vit_small_patch16_224", weight_init="skip").eval()
    assert isinstance(model, SparseVisionTransformer)
    model.load_state_dict(ref.state_dict())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        feats_ref, feats = ref.forward_features(x), model.forward_features(x)
        assert torch.allclose(feats, feats_ref, atol=1e-6)
        assert torch.allclose(model.forward_head(feats), ref.forward_head(feats_ref), atol=1e-6)
        assert torch.allclose(model.forward_head(feats, pre_logits=True), ref.forward_head(feats_ref, pre_logits=True))
        full = torch.arange(196)[None]
        assert torch.allclose(model(x, keep_idx=full, pos_idx=full), ref.forward_head(feats_ref), atol=1e-6)
    assert model.num_patches == 196 and model.patch_grid == (14, 14)


def test_keep_idx_drops_tokens_and_ignores_their_pixels() -> None:
    model = tiny()
    x = torch.randn(2, 3, 32, 32)
    keep = random_keep_indices(2, 16, 0.5, torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model.forward_features(x, keep_idx=keep)
        assert out.shape == (2, 1 + 8, 32)
        # change every dropped patch: output unchanged; change a kept patch: output changes
        x2 = x.clone()
        for b in range(2):
            for i in set(range(16)) - set(keep[b].tolist()):
                r, c = divmod(i, 4)
                x2[b, :, 8 * r : 8 * r + 8, 8 * c : 8 * c + 8] = torch.randn(3, 8, 8)
        assert torch.allclose(model.forward_features(x2, keep_idx=keep), out, atol=1e-6)
        r, c = divmod(int(keep[0, 0]), 4)
        x2[0, :, 8 * r : 8 * r + 8, 8 * c : 8 * c + 8] += 1.0
        assert not torch.allclose(model.forward_features(x2, keep_idx=keep)[0], out[0], atol=1e-4)


def test_kept_patches_embedded_like_the_conv() -> None:
    model = tiny(img_size=48, patch_size=16)
    x = torch.randn(2, 3, 48, 48)
    keep = torch.tensor([[0, 4, 8], [7, 2, 5]])
    with torch.no_grad():
        full = model.patch_embed(x)  # (B, 9, D) conv over every patch
        kept = embed_kept_patches(x, model.patch_embed.proj, keep)
        assert torch.allclose(kept, full.gather(1, keep[..., None].expand(-1, -1, 32)), atol=1e-5)
        # the sparse forward embeds only kept patches; the dynamic-size path gathers after the conv: same result
        dyn = tiny(img_size=48, patch_size=16, dynamic_img_size=True)
        dyn.load_state_dict(model.state_dict())
        assert torch.allclose(model.forward_features(x, keep), dyn.forward_features(x, keep), atol=1e-5)


def test_token_order_is_preserved() -> None:
    model = tiny()
    x = torch.randn(1, 3, 32, 32)
    keep = torch.tensor([[3, 7, 9, 12]])
    rev = keep.flip(1)
    with torch.no_grad():
        a = model.forward_features(x, keep_idx=keep)
        b = model.forward_features(x, keep_idx=rev)
    assert torch.allclose(a[:, 1:], b[:, 1:].flip(1), atol=1e-6)  # permutation equivariant
    assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6)


def test_pos_idx_gives_positions() -> None:
    model = tiny()
    x = torch.randn(2, 3, 32, 32)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    x_perm = patchify_permute(x, 8, perm)  # patch i of x now sits at perm[i]
    with torch.no_grad():
        dense = model.forward_features(x)
        # read the moved patches back in the original order and give them their original positions
        moved = model.forward_features(x_perm, keep_idx=perm.expand(2, -1), pos_idx=torch.arange(16).expand(2, -1))
        assert torch.allclose(moved, dense, atol=1e-5)
        # a wrong position changes the output
        keep = torch.arange(8).expand(2, -1)
        pos = keep.clone()
        pos[:, 0] = 15
        assert not torch.allclose(model.forward_features(x, keep, pos), model.forward_features(x, keep), atol=1e-4)


def test_mask_token_replaces_patch_embedding() -> None:
    model = tiny(mask_token=True)
    with torch.no_grad():
        model.mask_token.normal_()
    x = torch.randn(2, 3, 32, 32)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[:, [0, 5, 10]] = True
    with torch.no_grad():
        out = model.forward_features(x, mask=mask)
        assert torch.allclose(model.forward_features(x, mask=torch.zeros_like(mask)), model.forward_features(x))
        x2 = x.clone()
        x2[:, :, 0:8, 0:8] = torch.randn(2, 3, 8, 8)  # patch 0 is masked: its pixels do not matter
        assert torch.allclose(model.forward_features(x2, mask=mask), out, atol=1e-6)
        assert not torch.allclose(out, model.forward_features(x), atol=1e-4)
        # (B, K) mask over kept tokens == (B, N) mask over all patches
        keep = torch.tensor([[0, 2, 5, 7, 10, 11]] * 2)
        mask_k = mask.gather(1, keep)
        assert torch.allclose(model.forward_features(x, keep, mask=mask_k), model.forward_features(x, keep, mask=mask))
    with pytest.raises(ValueError, match="mask token"):
        tiny().forward_features(x, mask=mask)
    assert "mask_token" in model.no_weight_decay()


def test_sincos_positions_fixed_and_recomputed_for_other_sizes() -> None:
    model = tiny(pos_embed_type="sincos", dynamic_img_size=True)
    assert not model.pos_embed.requires_grad
    assert torch.equal(model.pos_embed[0, 0], torch.zeros(32))
    assert torch.allclose(model.pos_embed[0, 1:], sincos_2d_table(4, 4, 32))
    table = sincos_2d_table(3, 5, 8)  # h, w varying: channel groups follow the row and the column
    assert torch.allclose(table[1, :2], table[0, :2]) and not torch.allclose(table[5, :2], table[0, :2])
    model.train()
    model.forward_features(torch.randn(1, 3, 32, 32)).sum().backward()
    assert model.pos_embed.grad is None
    # at 48 px the table is the exact 6x6 sin-cos table: same output as a model built at 48 px
    big = tiny(pos_embed_type="sincos", img_size=48)
    state = {k: v for k, v in model.state_dict().items() if k != "pos_embed"}
    big.load_state_dict(state, strict=False)
    x = torch.randn(1, 3, 48, 48)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.forward_features(x), big.forward_features(x), atol=1e-5)


def test_learned_positions_interpolate_like_timm() -> None:
    model = tiny(dynamic_img_size=True)
    torch.manual_seed(0)
    ref = timm.models.VisionTransformer(**TINY, dynamic_img_size=True).eval()
    ref.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 48, 40)
    with torch.no_grad():
        assert torch.allclose(model.forward_features(x), ref.forward_features(x), atol=1e-5)
        keep = torch.tensor([[0, 4, 29]] * 2)
        assert model.forward_features(x, keep_idx=keep).shape == (2, 4, 32)
    model.set_input_size(img_size=(48, 48))
    assert model.patch_grid == (6, 6) and model.pos_embed.shape == (1, 37, 32)


def test_grad_checkpointing_same_outputs_and_grads() -> None:
    model = tiny(drop_path_rate=0.0).train()
    x = torch.randn(2, 3, 32, 32)
    keep = torch.tensor([[1, 2, 3, 8]] * 2)
    model(x, keep_idx=keep).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x, keep_idx=keep).sum().backward()
    for n, p in model.named_parameters():
        if n in grads:
            assert torch.allclose(p.grad, grads[n], atol=1e-6), n


def test_last_selfattention_matches_block_internals() -> None:
    model = tiny(reg_tokens=2)
    x = torch.randn(2, 3, 32, 32)
    keep = torch.tensor([[0, 3, 6, 9, 12]] * 2)
    captured = {}
    last = model.blocks[-1].attn
    last.fused_attn = False
    handle = last.attn_drop.register_forward_hook(lambda m, i, o: captured.setdefault("attn", o))
    with torch.no_grad():
        model.forward_features(x, keep_idx=keep)
        attn = model.get_last_selfattention(x, keep_idx=keep)
    handle.remove()
    assert attn.shape == (2, 2, 3 + 5, 3 + 5)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 2, 8), atol=1e-5)
    assert torch.allclose(attn, captured["attn"], atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_registry_builds_and_trains(name: str) -> None:
    size = {"tiny": 192, "small": 384, "base": 768, "large": 1024}[name.split("_")[2]]
    patch = int(name.split("patch")[1].split("_")[0])
    full = timm.create_model(name, device="meta")
    assert full.embed_dim == size and full.patch_grid == (224 // patch,) * 2
    model = timm.create_model(name, depth=1, img_size=patch * 3, num_classes=5, drop_path_rate=0.1).train()
    x = torch.randn(2, 3, patch * 3, patch * 3)
    out = model(x, keep_idx=torch.tensor([[0, 4, 8]] * 2))
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_local_safetensors_pretrained_file(tmp_path) -> None:
    kw = dict(depth=1, img_size=32, num_classes=0)
    src = timm.create_model("sparse_vit_tiny_patch16_224", **kw)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    loaded = timm.create_model(
        "sparse_vit_tiny_patch16_224", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **kw
    )
    for k, v in src.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    masked = timm.create_model(
        "sparse_vit_tiny_patch16_224",
        pretrained=True,
        pretrained_cfg_overlay=dict(file=str(path)),
        mask_token=True,
        **kw,
    )  # a checkpoint without mask token still loads; the token keeps its init
    assert torch.equal(masked.cls_token, src.cls_token) and torch.equal(masked.mask_token, torch.zeros(1, 1, 192))
    with pytest.raises(RuntimeError, match="No pretrained weights"):
        timm.create_model("sparse_vit_tiny_patch16_224", pretrained=True, **kw)  # never downloads


def test_flops_scale_with_kept_tokens() -> None:
    model = tiny(img_size=64, embed_dim=64, num_heads=4, depth=2)  # 64 patches
    x = torch.randn(2, 3, 64, 64)
    flops = {}
    for keep in (1.0, 0.5, 0.25):
        idx = random_keep_indices(2, 64, keep, torch.Generator().manual_seed(0))
        flops[keep] = count_flops(lambda idx=idx: model(x, keep_idx=idx).sum().backward())
    # linear layers scale with tokens (1 + K), attention with (1 + K)^2, patch embedding is paid in full
    for keep in (0.5, 0.25):
        ratio = flops[keep] / flops[1.0]
        tokens = (1 + 64 * keep) / 65
        assert 0.8 * tokens <= ratio <= 1.1 * tokens, (keep, ratio, tokens)
    assert flops[0.25] < flops[0.5] < flops[1.0]


def block_input(model: torch.nn.Module, *args: object, **kwargs: object) -> torch.Tensor:
    """The tokens entering the first block (after embedding, selection, positions and prefix tokens)."""
    seen = {}
    hook = model.blocks[0].register_forward_pre_hook(lambda m, a: seen.setdefault("x", a[0].detach()))
    with torch.no_grad():
        model.forward_features(*args, **kwargs)
    hook.remove()
    return seen["x"]


@pytest.mark.parametrize("no_embed_class", [False, True])
def test_no_pos_tokens_get_no_position_embedding_with_registers(no_embed_class: bool) -> None:
    model = tiny(reg_tokens=3, no_embed_class=no_embed_class)
    with torch.no_grad():
        model.pos_embed.normal_()  # timm starts learned positions near zero; make them visible
        model.reg_token.normal_()
    prefix = model.num_prefix_tokens
    assert prefix == 4
    x = torch.randn(2, 3, 32, 32)
    keep = torch.tensor([[2, 5, 7, 11, 13], [0, 1, 6, 9, 15]])
    pos = keep.flip(1)  # mismatched positions too
    no_pos = torch.tensor([[True, False, False, True, False], [False, False, True, False, False]])
    got = block_input(model, x, keep_idx=keep, pos_idx=pos, no_pos=no_pos)  # (B, 4 + K, D)

    # direct formula: conv embedding of every patch, gathered; positions added except where no_pos
    with torch.no_grad():
        emb = model.patch_embed(x).gather(1, keep[..., None].expand(-1, -1, 32))  # (B, K, D)
        table = model.pos_embed[:, 0 if no_embed_class else prefix :]  # (1, N, D)
        patch_pos = table.expand(2, -1, -1).gather(1, pos[..., None].expand(-1, -1, 32))
        expected_patches = emb + patch_pos * (~no_pos)[..., None]
        prefix_tokens = torch.cat([model.cls_token, model.reg_token], dim=1).expand(2, -1, -1)
        if not no_embed_class:
            prefix_tokens = prefix_tokens + model.pos_embed[:, :prefix]
    torch.testing.assert_close(got[:, prefix:], expected_patches, atol=1e-5, rtol=0)
    torch.testing.assert_close(got[:, :prefix], prefix_tokens, atol=1e-6, rtol=0)
    # a no-position token is its content alone: changing the whole table leaves it unchanged
    torch.testing.assert_close(got[:, prefix:][no_pos], emb[no_pos], atol=1e-5, rtol=0)
    with torch.no_grad():
        model.pos_embed.add_(1.0)
    moved = block_input(model, x, keep_idx=keep, pos_idx=pos, no_pos=no_pos)
    assert torch.equal(moved[:, prefix:][no_pos], got[:, prefix:][no_pos])
    assert not torch.allclose(moved[:, prefix:][~no_pos], got[:, prefix:][~no_pos])
    # all False is the ordinary forward; the dense (B, N) form works without keep_idx
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_features(x, keep, pos, no_pos=torch.zeros_like(no_pos)), model.forward_features(x, keep, pos)
        )
        dense_no_pos = torch.zeros(2, 16, dtype=torch.bool)
        dense_no_pos[:, 3] = True
        dense = block_input(model, x, no_pos=dense_no_pos)
        torch.testing.assert_close(dense[:, prefix + 3], model.patch_embed(x)[:, 3], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="no_pos"):
        model.forward_features(x, keep, no_pos=no_pos[:, :3])


@pytest.mark.parametrize("size, pad", [(64, False), (40, True)])
def test_dynamic_size_sparse_forward_embeds_only_kept_patches(size: int, pad: bool) -> None:
    """DINO's local crops (``dynamic_img_size``) take the kept-patch embedding too, with timm's padding."""
    model = tiny(dynamic_img_size=True, dynamic_img_pad=pad)
    x = torch.randn(2, 3, size, size)
    n = (-(-size // 8)) ** 2
    keep = random_keep_indices(2, n, 0.25, torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = model.forward_features(x, keep_idx=keep)
        # reference: timm's patch embedding of every patch (conv, NHWC, padded), then selection
        ref = model.norm(model.blocks(model.norm_pre(model._pos_embed(model.patch_embed(x), keep_idx=keep))))
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    conv = count_flops(lambda: model.patch_embed.proj(torch.nn.functional.pad(x, (0, -size % 8, 0, -size % 8))))
    embed_sparse = count_flops(lambda: model._prepare_tokens(x, keep, None, None, None))
    assert embed_sparse <= 0.3 * conv  # the conv over all patches is not run


def test_bench_headline_keys_are_what_the_demo_stage_reads(tmp_path) -> None:
    """The core demo's headline reads ``step_<size>_keep<keep>_speedup`` from the benchmark it runs."""
    from sparse_core import demo
    from sparse_core.bench import run

    res = run(tmp_path, quick=True, models=("small",), keeps=(1.0, 0.35), device="cpu")
    assert set(res.metrics) == {"small_keep0.35_speedup"}
    rows = res.details["rows"]
    times = res.details["timing"]["small"]["times_s"]  # the paired rounds, dense beside keep 0.35
    paired = sorted(d / t for d, t in zip(times["1"], times["0.35"]))
    assert len(paired) == 5 and res.metrics["small_keep0.35_speedup"] == paired[2] == rows[1]["speedup"]
    h = demo.demo_headline({f"step_{k}": v for k, v in res.metrics.items()})
    assert h.trained == res.metrics["small_keep0.35_speedup"]
