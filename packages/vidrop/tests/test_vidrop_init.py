"""Initialisation from local VideoMAE (Hugging Face format) and V-JEPA checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from vidrop_testutils import tiny_config

from vidrop.config import InitConfig
from vidrop.init import load_init, vjepa_to_videovit
from vidrop.model import build_encoder
from vidrop.task import ViDROPTask


def test_videomae_folder_initialises_student_and_teacher(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    cfg = tiny_config()
    e = cfg.encoder
    hf_cfg = transformers.VideoMAEConfig(image_size=e.img_size, patch_size=e.patch_size, num_frames=e.num_frames,
                                         tubelet_size=e.tubelet_size, hidden_size=e.embed_dim,
                                         num_hidden_layers=e.depth, num_attention_heads=e.num_heads,
                                         intermediate_size=4 * e.embed_dim, use_mean_pooling=False,
                                         layer_norm_eps=1e-6)
    torch.manual_seed(1)
    hf = transformers.VideoMAEModel(hf_cfg)
    hf.save_pretrained(tmp_path / "videomae")
    cfg.init = InitConfig(kind="videomae", path=str(tmp_path / "videomae"))
    task = ViDROPTask(cfg, total_steps=2)
    w_hf = hf.state_dict()["encoder.layer.0.intermediate.dense.weight"]
    torch.testing.assert_close(task.encoder.vit.blocks[0].mlp.fc1.weight, w_hf)
    torch.testing.assert_close(task.teacher_encoder.vit.blocks[0].mlp.fc1.weight, w_hf)
    # same features as the Hugging Face model on a dense clip (no CLS there: compare patch tokens)
    x = torch.randn(2, 3, e.num_frames, e.img_size, e.img_size)
    enc = task.teacher_encoder
    ours = enc.vit.norm(enc.vit.blocks(enc.vit._embed(x, None, None, None)))
    ref = hf(pixel_values=x.transpose(1, 2)).last_hidden_state
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_vjepa_key_mapping(tmp_path: Path) -> None:
    cfg = tiny_config()
    cfg.encoder.pos_embed_type = "learned"
    src = build_encoder(cfg.encoder, mask_token=False)
    sd = {f"module.backbone.{k}": v.clone() + 0.5 for k, v in src.vit.state_dict().items()}
    torch.save({"encoder": {k: torch.zeros_like(v) for k, v in sd.items()}, "target_encoder": sd, "epoch": 3},
               tmp_path / "vjepa.pth.tar")
    assert set(vjepa_to_videovit({"target_encoder": sd})) == set(src.vit.state_dict())
    enc = build_encoder(cfg.encoder)
    missing = load_init(enc, InitConfig(kind="vjepa", path=str(tmp_path / "vjepa.pth.tar")))
    assert "cls_token" in missing and "vit.mask_token" in missing
    torch.testing.assert_close(enc.vit.pos_embed, src.vit.pos_embed + 0.5)
    torch.testing.assert_close(enc.vit.blocks[1].attn.qkv.weight, src.vit.blocks[1].attn.qkv.weight + 0.5)
    cfg.encoder.pos_embed_type = "sincos"
    with pytest.raises(ValueError, match="learned"):
        load_init(build_encoder(cfg.encoder), InitConfig(kind="vjepa", path=str(tmp_path / "vjepa.pth.tar")))


def test_init_errors() -> None:
    enc = build_encoder(tiny_config().encoder)
    with pytest.raises(ValueError, match="init.path"):
        load_init(enc, InitConfig(kind="videomae"))
    with pytest.raises(ValueError, match="init.kind"):
        load_init(enc, InitConfig(kind="mae"))


def test_init_bad_path_names_the_file(tmp_path: Path) -> None:
    enc = build_encoder(tiny_config().encoder)
    with pytest.raises(FileNotFoundError, match="missing_videomae"):
        load_init(enc, InitConfig(kind="videomae", path=str(tmp_path / "missing_videomae")))
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ValueError, match="notes.txt"):
        load_init(enc, InitConfig(kind="videomae", path=str(tmp_path / "notes.txt")))
