"""sfclip.export: the student loads in open_clip and gives the same image and text embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from sfclip_test_utils import tiny_config

from sfclip.evaluation import build_student
from sfclip.export import CONFIG_FILE, WEIGHTS_FILE, export_open_clip, load_open_clip, timm_name
from sfclip.towers import CLIP_MEAN, CLIP_STD

CAPTIONS = ["a red circle", "a big blue square next to a green star", "x", "ein rotes Quadrat"]


def _perturbed_student(projection: bool) -> tuple:
    cfg = tiny_config()
    cfg.text.word_embedding_projection = projection
    model = build_student(cfg).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # move every weight off its initial value (zero biases, unit norms)
        for p in model.student.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model, cfg


@pytest.mark.parametrize("projection", [True, False], ids=["teacher-word-projection", "learned-embeddings"])
def test_open_clip_loads_the_export_and_gives_the_same_embeddings(tmp_path: Path, projection: bool) -> None:
    model, cfg = _perturbed_student(projection)
    folder = export_open_clip(model, cfg, tmp_path / "oc")
    weights = load_file(folder / WEIGHTS_FILE)
    assert not [k for k in weights if "teacher" in k or "distill" in k or "mask_token" in k]
    oc, tokenizer = load_open_clip(folder)
    assert type(oc).__name__ == "CustomTextCLIP"
    images = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    normed = (images - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(oc.encode_image(normed, normalize=True), model.encode_images(images), atol=1e-5)
        ids = tokenizer(CAPTIONS)
        assert ids.shape == (4, cfg.text.context_length)
        ours = model.encode_texts(CAPTIONS)
        theirs = oc.encode_text(ids, normalize=True)
        assert torch.allclose(theirs, ours, atol=1e-5)
        assert not torch.allclose(ours[0], ours[1], atol=1e-2)  # the captions give different embeddings
        assert oc.logit_scale.item() == pytest.approx(model.student["logit_scale"].log_scale.item())
    preprocess = json.loads((folder / CONFIG_FILE).read_text())["preprocess_cfg"]
    assert preprocess["mean"] == list(CLIP_MEAN) and preprocess["std"] == list(CLIP_STD)


def test_stock_timm_name_equals_the_student_vit() -> None:
    import timm

    from sfclip.towers import VisionTower

    assert timm_name(224, 16, 768, 12, 12) == "sfclip_vit_s224_p16_w768_d12_h12"  # thesis ViT-B/16: 12 heads
    name = timm_name(224, 16, 768, 12, 16)
    assert name == "vit_base_patch16_gap_224"
    # one block instead of twelve keeps the test fast; every other argument is the stock model's
    ours = VisionTower(224, 16, 768, 1, 16, 512).vit.eval()
    stock = timm.create_model(name, pretrained=False, num_classes=0, depth=1).eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in stock.state_dict().items()}
    stock.load_state_dict(ours.state_dict())
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(stock(x), ours.forward_features(x).mean(dim=1), atol=1e-5)
