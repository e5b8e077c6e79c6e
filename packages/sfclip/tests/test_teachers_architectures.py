"""Teacher architectures of the thesis on tiny random configs: XGLM (causal LM text teacher), DINOv2 and SAM
(vision), DINO + SAM at once (Table 7.9): frozen, eval mode, no gradients, outside the optimizer and the
export, token grids aligned, layer-normed targets, and run only on the distillation subset."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from sfclip_test_utils import tiny_config
from transformers import AutoTokenizer, XGLMModel

from sfclip.data import ShapePairs
from sfclip.task import SFCLIPTask, subset_rows
from sfclip.teachers import SamTeacher, build_text_teacher, build_vision_teacher, minilm_path
from sparse_core.engine import OptimConfig, build_optimizer


def _batch(n: int) -> dict:
    data = ShapePairs(n, 32, seed=3)
    samples = [data[i] for i in range(n)]
    return {"image": torch.stack([s["image"] for s in samples]), "caption": [s["caption"] for s in samples]}


def _dino_sam_xglm(**distill: float) -> SFCLIPTask:
    torch.manual_seed(0)
    cfg = tiny_config(("dinov2_tiny_random", "sam_tiny_random"), **distill)
    cfg.teacher.text = "xglm_tiny_random"
    return SFCLIPTask(cfg)


def test_sam_teacher_loads_from_a_local_folder_and_gives_its_neck_grid(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tiny = build_vision_teacher("sam_tiny_random", 48)
    assert isinstance(tiny, SamTeacher) and tiny.size == 48 and tiny.dim == 16
    tiny.net.save_pretrained(tmp_path / "sam")
    loaded = build_vision_teacher("sam", 224, str(tmp_path / "sam"))  # SAM keeps its own image_size
    images = torch.rand(2, 3, 32, 32)
    out = loaded(images)
    assert out.shape == (2, 16, 3, 3) and loaded.size == 48
    torch.testing.assert_close(out, tiny(images))
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.train().training


def test_xglm_teacher_from_a_local_folder_is_causal(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tiny = build_text_teacher("xglm_tiny_random")
    assert isinstance(tiny.net, XGLMModel) and tiny.dim == 32
    tiny.net.save_pretrained(tmp_path / "xglm")
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(tmp_path / "xglm")
    loaded = build_text_teacher("hf", str(tmp_path / "xglm"))
    enc = loaded.tokenize(["a red circle", "a blue star on grey"], 8)
    out = loaded(**enc)
    torch.testing.assert_close(out, tiny(**enc))
    # causal: a token's state does not depend on later tokens
    ids = enc["input_ids"][1:].clone()
    changed = ids.clone()
    changed[0, 4] = 2000
    att = torch.ones_like(ids)
    a, b = loaded(ids, att), loaded(changed, att)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_dino_and_sam_at_once_are_frozen_and_absent_from_optimizer_and_export() -> None:
    task = _dino_sam_xglm(image_ratio=0.25, text_ratio=0.125)
    task.train()
    teachers = [task.text_teacher, *task.vision_teachers.values()]
    assert set(task.vision_distill) == {"dinov2_tiny_random", "sam_tiny_random"}
    assert task.vision_distill["sam_tiny_random"].out_features == 16
    assert all(not m.training for t in teachers for m in t.modules())
    teacher_params = {id(p) for t in teachers for p in t.parameters()}
    assert teacher_params and not any(p.requires_grad for t in teachers for p in t.parameters())
    opt = build_optimizer(task, OptimConfig(lr=1e-3), lr=1e-3)
    assert not {id(p) for g in opt.param_groups for p in g["params"]} & teacher_params
    assert not [k for k in task.student.state_dict() if "teacher" in k or "distill" in k]
    assert not [k for k in task.state_dict() if "teacher" in k]
    for t in teachers:
        t.rows_seen = 0
    out = task.training_step(_batch(16), step=1)
    out["loss"].backward()
    assert [t.rows_seen for t in task.vision_teachers.values()] == [4, 4] and task.text_teacher.rows_seen == 2
    assert all(p.grad is None for t in teachers for p in t.parameters())
    assert [n for n, p in task.named_parameters() if p.requires_grad and p.grad is None] == []


def test_two_vision_teachers_sum_their_layer_normed_grid_aligned_losses() -> None:
    """L_VD = sum over DINOv2 (6x6 grid) and SAM (3x3 grid) of eq. 7.2 (squared L2 over the width, mean over
    tokens), student grid 4x4."""
    task = _dino_sam_xglm(image_ratio=0.5, text_ratio=0.0)
    task.eval()
    batch = _batch(8)
    out = task.training_step(batch, step=2)
    idx = subset_rows(0.5, 8, slice(0, 8), task.generator(2, "distill_image"))
    expected = torch.zeros(())
    with torch.no_grad():
        tokens = task.vision.tokens(batch["image"][idx])  # (4, 16, 24)
        for name, grid in (("dinov2_tiny_random", 6), ("sam_tiny_random", 3)):
            teacher = task.vision_teachers[name]
            dim = teacher.dim
            pred = task.vision_distill[name](tokens).transpose(1, 2).reshape(4, dim, 4, 4)
            pred = F.interpolate(pred, size=(grid, grid), mode="bilinear", align_corners=False)
            x = F.interpolate(batch["image"][idx], size=(48, 48), mode="bilinear")
            raw = teacher.net(pixel_values=(x - teacher.mean) / teacher.std).last_hidden_state
            if name.startswith("dinov2"):
                raw = raw[:, 1:].transpose(1, 2).reshape(4, dim, grid, grid)
            target = F.layer_norm(raw.flatten(2).transpose(1, 2), (dim,), eps=1e-6)
            assert target.shape == (4, grid * grid, dim)
            expected = expected + (pred.flatten(2).transpose(1, 2) - target).pow(2).sum(-1).mean()
    task.train()
    torch.testing.assert_close(out["vd"], expected)
    assert "td" not in out and task.text_distill is None


def test_tokenizer_only_text_teacher_when_no_text_distillation_and_learned_embeddings() -> None:
    cfg = tiny_config((), text_ratio=0.0)
    cfg.teacher.text = "xglm_tiny_random"
    cfg.text.word_embedding_projection = False
    task = SFCLIPTask(cfg)
    assert not task.text_teacher.has_model and task.text_teacher.vocab_size == 30522
    assert isinstance(task.text.token_proj, torch.nn.Embedding) and task.text.token_proj.num_embeddings == 30522
    out = task.training_step(_batch(4), step=0)
    assert set(out) == {"clip", "loss", "logit_scale"}
