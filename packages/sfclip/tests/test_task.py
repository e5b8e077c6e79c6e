"""SF-CLIP task: frozen teachers, distillation only on the subset, word-embedding projection, token grids."""

from __future__ import annotations

import pytest
import torch
from sfclip_test_utils import FAST_ARGV, tiny_config

from sfclip.data import ShapePairs
from sfclip.task import SFCLIPTask, subset_rows
from sparse_core.engine import OptimConfig, build_optimizer


def _batch(n: int = 16) -> dict:
    data = ShapePairs(n, 32, seed=1)
    samples = [data[i] for i in range(n)]
    return {"image": torch.stack([s["image"] for s in samples]), "caption": [s["caption"] for s in samples]}


@pytest.fixture(scope="module")
def task() -> SFCLIPTask:
    torch.manual_seed(0)
    # two vision teachers at once (Table 7.9), grids 6x6 (DINOv2) and 2x2 (EfficientNet) vs the student's 4x4
    return SFCLIPTask(tiny_config(("dinov2_tiny_random", "efficientnet_lite0"), image_ratio=0.25, text_ratio=0.125))


def test_teachers_frozen_in_eval_and_absent_from_optimizer(task: SFCLIPTask) -> None:
    task.train()
    teachers = [task.text_teacher, *task.vision_teachers.values()]
    assert all(not m.training for t in teachers for m in t.modules())
    assert task.student.training and task.text_distill.training
    teacher_params = {id(p) for t in teachers for p in t.parameters()}
    assert teacher_params and all(not p.requires_grad for t in teachers for p in t.parameters())
    opt = build_optimizer(task, OptimConfig(lr=1e-3), lr=1e-3)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not in_opt & teacher_params
    assert in_opt == {id(p) for p in task.parameters() if p.requires_grad}
    # a step leaves the teachers untouched and without gradients
    dino = task.vision_teachers["dinov2_tiny_random"]
    before = {k: v.clone() for k, v in dino.state_dict().items()}
    task.zero_grad()
    task.training_step(_batch(), step=0)["loss"].backward()
    opt.step()
    assert all(p.grad is None for t in teachers for p in t.parameters())
    assert all(torch.equal(before[k], v) for k, v in dino.state_dict().items())


def test_teachers_not_in_state_dict_nor_export(task: SFCLIPTask) -> None:
    keys = task.state_dict().keys()
    assert not [k for k in keys if "teacher" in k]
    assert any(k.startswith("student.vision.") for k in keys) and "student.logit_scale.log_scale" in keys
    assert not [k for k in task.student.state_dict() if "teacher" in k]  # the frozen word table is not exported
    task.load_state_dict(task.state_dict())  # strict load of a teacher-free checkpoint


def test_teachers_see_only_the_subset(task: SFCLIPTask) -> None:
    vision = list(task.vision_teachers.values())
    for t in [task.text_teacher, *vision]:
        t.rows_seen = 0
    out = task.training_step(_batch(16), step=3)
    assert [t.rows_seen for t in vision] == [4, 4]  # 0.25 of 16, each teacher
    assert task.text_teacher.rows_seen == 2  # 0.125 of 16
    assert {"clip", "vd", "td"} <= out.keys()
    torch.testing.assert_close(out["loss"], out["clip"] + out["vd"] + out["td"])  # lambda_1 = lambda_2 = 1


def test_distillation_loss_depends_only_on_subset_rows(task: SFCLIPTask) -> None:
    """Changing a row outside both subsets changes the CLIP loss but neither distillation loss."""
    task.eval()
    batch = _batch(16)
    chosen = set(subset_rows(0.25, 16, slice(0, 16), task.generator(5, "distill_image")).tolist())
    chosen |= set(subset_rows(0.125, 16, slice(0, 16), task.generator(5, "distill_text")).tolist())
    other = next(i for i in range(16) if i not in chosen)
    a = task.training_step(batch, step=5)
    batch["image"][other] = 1.0 - batch["image"][other]
    batch["caption"][other] = "a completely different caption"
    b = task.training_step(batch, step=5)
    task.train()
    assert not torch.allclose(a["clip"], b["clip"])
    torch.testing.assert_close(a["vd"], b["vd"])
    torch.testing.assert_close(a["td"], b["td"])


def test_subset_rows_split_the_global_choice_across_processes() -> None:
    g = lambda: torch.Generator().manual_seed(7)
    whole = subset_rows(0.25, 16, slice(0, 16), g())
    parts = [subset_rows(0.25, 16, slice(r * 8, (r + 1) * 8), g()) + r * 8 for r in range(2)]
    assert whole.numel() == 4
    assert torch.equal(torch.cat(parts), whole)


def test_learned_embedding_variant_and_image_masking() -> None:
    torch.manual_seed(0)
    cfg = tiny_config(("efficientnet_lite0",), vision_size=64, image_mask_ratio=0.5)
    cfg.text.word_embedding_projection = False
    task = SFCLIPTask(cfg)
    assert isinstance(task.text.token_proj, torch.nn.Embedding)
    out = task.training_step(_batch(8), step=0)
    out["loss"].backward()
    assert torch.isfinite(out["vd"]) and task.student["vision"].vit.mask_token.grad is not None


def test_word_embedding_projection_reads_the_teacher_table(task: SFCLIPTask) -> None:
    table = task.text_teacher.word_embeddings
    ids = torch.tensor([[101, 1037, 2417, 102]])
    proj = task.text.token_proj
    expected = proj(table[ids])
    torch.testing.assert_close(proj(task.text.teacher_words[ids]), expected)
    assert not task.text.teacher_words.requires_grad


def test_vision_teachers_each_get_their_own_projection(task: SFCLIPTask) -> None:
    assert set(task.vision_distill) == set(task.vision_teachers) == {"dinov2_tiny_random", "efficientnet_lite0"}
    assert task.vision_distill["dinov2_tiny_random"].out_features == 32
    assert task.vision_distill["efficientnet_lite0"].out_features == 1280


def test_no_image_teacher_variant() -> None:
    task = SFCLIPTask(tiny_config(()))
    out = task.training_step(_batch(8), step=0)
    assert "vd" not in out and len(task.vision_teachers) == 0


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_image_distillation_equals_eq_7_2(reduction: str) -> None:
    """L_VD (eq. 7.2) = mean over the subset's tokens of ||interpolated projection - LayerNorm(teacher)||_2^2,
    the squared norm summed over the width D; ``distill.reduction: mean`` divides it by D."""
    torch.manual_seed(0)
    task = SFCLIPTask(tiny_config(image_ratio=0.5, text_ratio=0.0, reduction=reduction))
    task.eval()
    batch = _batch(8)
    out = task.training_step(batch, step=2)
    idx = subset_rows(0.5, 8, slice(0, 8), task.generator(2, "distill_image"))
    with torch.no_grad():
        tokens = task.vision.tokens(batch["image"][idx])  # (4, 16, 24)
        pred = task.vision_distill["dinov2_tiny_random"](tokens).transpose(1, 2).reshape(4, 32, 4, 4)
        pred = torch.nn.functional.interpolate(pred, size=(6, 6), mode="bilinear", align_corners=False)
        teacher = task.vision_teachers["dinov2_tiny_random"]
        x = torch.nn.functional.interpolate(batch["image"][idx], size=(48, 48), mode="bilinear")
        target = teacher.net(pixel_values=(x - teacher.mean) / teacher.std).last_hidden_state[:, 1:]  # (4, 36, 32)
        target = torch.nn.functional.layer_norm(target, (32,), eps=1e-6)
        sq = (pred.flatten(2).transpose(1, 2) - target).pow(2)  # (4, 36, 32)
        expected = sq.sum(-1).mean() if reduction == "sum" else sq.sum(-1).mean() / 32
    task.train()
    torch.testing.assert_close(out["vd"], expected)
    assert "td" not in out


def test_text_distillation_equals_eq_7_3_and_masking_changes_it() -> None:
    """Unmasked L_TD (eq. 7.3) = mean over the subset's real tokens of ||projection - LayerNorm(teacher)||_2^2
    (summed over the width); masking the student's input changes it while the teacher sees whole captions."""
    torch.manual_seed(0)
    task = SFCLIPTask(tiny_config((), image_ratio=0.0, text_ratio=0.5, text_mask_ratio=0.0))
    task.eval()
    batch = _batch(8)
    out = task.training_step(batch, step=1)
    idx = subset_rows(0.5, 8, slice(0, 8), task.generator(1, "distill_text"))
    enc = task.tokenize(batch["caption"], torch.device("cpu"))
    ids, att = enc["input_ids"][idx], enc["attention_mask"][idx].bool()
    with torch.no_grad():
        pred = task.text_distill(task.text.tokens(ids, att))
        target = torch.nn.functional.layer_norm(task.text_teacher.net(input_ids=ids, attention_mask=att.long())
                                                .last_hidden_state, (32,), eps=1e-6)
        expected = (pred - target).pow(2).sum(-1)[att].mean()
    torch.testing.assert_close(out["td"], expected)
    task.cfg.distill.text_mask_ratio = 0.25
    masked = task.training_step(batch, step=1)
    task.train()
    assert not torch.allclose(masked["td"], out["td"])
    torch.testing.assert_close(masked["clip"], out["clip"])  # the CLIP loss sees unmasked captions


@pytest.mark.parametrize("image_mask_ratio", [0.0, 0.5])
def test_every_trainable_parameter_gets_a_gradient(image_mask_ratio: float) -> None:
    """DDP (without find_unused_parameters) needs a gradient for every trainable parameter on every step."""
    torch.manual_seed(0)
    task = SFCLIPTask(tiny_config(image_mask_ratio=image_mask_ratio))
    task.training_step(_batch(8), step=0)["loss"].backward()
    assert [n for n, p in task.named_parameters() if p.requires_grad and p.grad is None] == []
    assert (task.vision.vit.mask_token is not None) == (image_mask_ratio > 0)
    assert isinstance(task.vision.vit.norm, torch.nn.LayerNorm)  # final norm on the tokens, not after pooling


@pytest.mark.parametrize("extra", [[], ["--text.word_embedding_projection", "false", "--teacher.vision", "[]"]])
def test_build_student_is_the_runs_initialisation_whatever_came_before(extra: list[str]) -> None:
    from sfclip.cli.train import CONFIG_DIR
    from sfclip.config import SFCLIPConfig
    from sfclip.evaluation.model import build_student
    from sfclip.task import SFCLIPTask
    from sparse_core.config import parse_config
    from sparse_core.engine.seeding import seeded

    cfg = parse_config(SFCLIPConfig, [*FAST_ARGV, *extra, "--train.seed", "3"], config_dir=CONFIG_DIR)
    with seeded(3):
        want = SFCLIPTask(cfg).student.state_dict()
    torch.manual_seed(123)
    torch.rand(1000)  # whatever the process drew before must not matter
    first = build_student(cfg).student.state_dict()
    got = build_student(cfg).student.state_dict()
    assert set(first) == set(want)
    for key in want:
        assert torch.equal(first[key], want[key]) and torch.equal(got[key], want[key]), key
