"""Video ViT: VideoMAE weight loading gives Hugging Face's outputs; token selection over space-time tokens."""

from __future__ import annotations

import os

import pytest
import torch

from sparse_core.masking import keep_indices_from_mask, tube_mask
from sparse_core.models import VideoViT, load_videomae_weights
from sparse_core.models.token_ops import embed_kept_patches

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

ARCH = dict(img_size=32, num_frames=4, tubelet_size=2, patch_size=8, embed_dim=64, depth=2, num_heads=4)


def hf_config(use_mean_pooling: bool, **kw: object) -> transformers.VideoMAEConfig:
    return transformers.VideoMAEConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        num_frames=4,
        tubelet_size=2,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        layer_norm_eps=1e-6,
        use_mean_pooling=use_mean_pooling,
        **kw,
    )


def randomize(model: torch.nn.Module) -> torch.nn.Module:
    """Random values everywhere (HF inits biases to zero, which would hide a wrong bias mapping)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1 if p.ndim > 1 else 0.5)
    return model.eval()


@pytest.mark.parametrize("use_mean_pooling", [True, False])
def test_same_features_as_hf_videomae(use_mean_pooling: bool) -> None:
    hf = randomize(transformers.VideoMAEModel(hf_config(use_mean_pooling)))
    model = VideoViT(**ARCH, use_mean_pooling=use_mean_pooling).eval()
    missing = load_videomae_weights(model, hf.state_dict())
    assert all(k.startswith(("fc_norm", "head")) for k in missing)
    x = torch.randn(2, 3, 4, 32, 32)  # (B, C, T, H, W)
    with torch.no_grad():
        ref = hf(pixel_values=x.transpose(1, 2)).last_hidden_state  # HF takes (B, T, C, H, W)
        out = model.forward_features(x)
    assert out.shape == ref.shape == (2, 2 * 4 * 4, 64)
    assert torch.allclose(out, ref, atol=1e-5)


def test_same_logits_as_hf_classifier_with_mean_pooling() -> None:
    hf = randomize(transformers.VideoMAEForVideoClassification(hf_config(True, num_labels=3)))
    model = VideoViT(**ARCH, num_classes=3).eval()
    assert load_videomae_weights(model, hf.state_dict()) == []
    model.fc_norm.eps = hf.fc_norm.eps  # HF builds fc_norm with torch's default eps (1e-5)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ref = hf(pixel_values=x.transpose(1, 2)).logits
        seq = hf.videomae(pixel_values=x.transpose(1, 2)).last_hidden_state
        assert torch.allclose(model(x), ref, atol=1e-5)
        assert torch.allclose(
            model.forward_head(model.forward_features(x), pre_logits=True), hf.fc_norm(seq.mean(1)), atol=1e-5
        )


def test_keep_idx_equals_hf_bool_masked_pos() -> None:
    hf = randomize(transformers.VideoMAEModel(hf_config(True)))
    model = VideoViT(**ARCH).eval()
    load_videomae_weights(model, hf.state_dict())
    mask = tube_mask(2, 2, 4, 4, 0.75, torch.Generator().manual_seed(0))  # True = hidden
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        ref = hf(pixel_values=x.transpose(1, 2), bool_masked_pos=mask).last_hidden_state
        out = model.forward_features(x, keep_idx=keep_indices_from_mask(mask))
    assert out.shape == (2, 8, 64)
    assert torch.allclose(out, ref, atol=1e-5)


def test_old_q_bias_v_bias_layout() -> None:
    hf = randomize(transformers.VideoMAEModel(hf_config(True)))
    old = {}
    for k, v in hf.state_dict().items():
        k = k.replace("attention.attention.query.bias", "attention.attention.q_bias")
        k = k.replace("attention.attention.value.bias", "attention.attention.v_bias")
        old["videomae." + k] = v
    a, b = VideoViT(**ARCH).eval(), VideoViT(**ARCH).eval()
    load_videomae_weights(a, hf.state_dict())
    load_videomae_weights(b, old)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    # VideoMAE has no key bias (zeros in the fused bias); some transformers versions do create one
    key_bias = hf.state_dict().get("encoder.layer.0.attention.attention.key.bias", torch.zeros(64))
    assert torch.equal(a.blocks[0].attn.qkv.bias[64:128], key_bias)


def test_token_selection_and_grid() -> None:
    torch.manual_seed(0)
    model = VideoViT(**ARCH, mask_token=True).eval()
    assert model.token_grid == (2, 4, 4) and model.num_patches == 32
    with torch.no_grad():
        model.mask_token.normal_()
    x = torch.randn(2, 3, 4, 32, 32)
    keep = torch.tensor([[0, 5, 17, 31]] * 2)
    with torch.no_grad():
        out = model.forward_features(x, keep_idx=keep)
        assert out.shape == (2, 4, 64)
        # token 17 is (t=1, h=0, w=1): frames 2-3, rows 0-7, cols 8-15; a dropped tubelet does not matter
        x2 = x.clone()
        x2[:, :, 2:4, 0:8, 16:24] += 1.0  # token 18, dropped
        assert torch.allclose(model.forward_features(x2, keep_idx=keep), out, atol=1e-6)
        x2[:, :, 2:4, 0:8, 8:16] += 1.0  # token 17, kept
        assert not torch.allclose(model.forward_features(x2, keep_idx=keep), out, atol=1e-4)
        pos = keep.clone()
        pos[:, 1] = 6
        assert not torch.allclose(model.forward_features(x, keep_idx=keep, pos_idx=pos), out, atol=1e-4)
        mask = torch.zeros(2, 32, dtype=torch.bool)
        mask[:, 17] = True
        masked = model.forward_features(x, keep_idx=keep, mask=mask)
        assert torch.allclose(model.forward_features(x2, keep_idx=keep, mask=mask), masked, atol=1e-6)
        attn = model.get_last_selfattention(x, keep_idx=keep)
        assert attn.shape == (2, 4, 4, 4) and torch.allclose(attn.sum(-1), torch.ones(2, 4, 4), atol=1e-5)


def test_kept_tubelets_embedded_like_the_conv() -> None:
    model = VideoViT(**ARCH).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    keep = torch.tensor([[1, 6, 17, 30], [0, 2, 9, 31]])
    with torch.no_grad():
        full, _ = model.patch_embed(x)  # conv over every tubelet
        kept = embed_kept_patches(x, model.patch_embed.proj, keep)
    assert torch.allclose(kept, full.gather(1, keep[..., None].expand(-1, -1, 64)), atol=1e-5)


def test_other_clip_lengths_and_training() -> None:
    for pos_type in ("sincos", "learned"):
        model = VideoViT(**ARCH, pos_embed_type=pos_type, num_classes=5, drop_path_rate=0.1).train()
        model.set_grad_checkpointing(True)
        out = model(torch.randn(2, 3, 8, 32, 32), keep_idx=torch.tensor([[0, 10, 40, 63]] * 2))  # 4 x 4 x 4 grid
        assert out.shape == (2, 5)
        out.sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        assert ("pos_embed" in dict(model.named_parameters())) == (pos_type == "learned")
