"""Every ablation variant of Table 7.8 (plus full-batch and plain CLIP) is reachable by config and does what
its row says: which losses exist, which teachers run on how many rows, what the text input is."""

from __future__ import annotations

import pytest
import torch
from sfclip_test_utils import FAST_ARGV

from sfclip.ablations import VARIANTS, variant_overrides
from sfclip.config import CONFIG_DIR, SFCLIPConfig
from sfclip.data import ShapePairs
from sfclip.task import SFCLIPTask
from sparse_core.config import parse_config

BATCH = 16


def _run(name: str) -> tuple[SFCLIPTask, dict[str, torch.Tensor]]:
    cfg = parse_config(SFCLIPConfig, [*FAST_ARGV, *variant_overrides(name)], config_dir=CONFIG_DIR)
    torch.manual_seed(0)
    task = SFCLIPTask(cfg)
    data = ShapePairs(BATCH, 32, seed=4)
    samples = [data[i] for i in range(BATCH)]
    batch = {"image": torch.stack([s["image"] for s in samples]), "caption": [s["caption"] for s in samples]}
    out = task.training_step(batch, step=0)
    out["loss"].backward()
    assert [n for n, p in task.named_parameters() if p.requires_grad and p.grad is None] == []
    return task, out


# tiny: image_ratio 0.25, text_ratio 0.125 of 16 -> 4 images, 2 texts
EXPECTED = {  # name: (image rows, text rows, loss keys beyond clip)
    "default": (4, 2, {"vd", "td"}),
    "no_text_teacher": (4, 0, {"vd"}),
    "no_text_mask": (4, 2, {"vd", "td"}),
    "no_embedding_projection": (4, 2, {"vd", "td"}),
    "no_image_teacher": (None, 2, {"td"}),
    "image_mask": (4, 2, {"vd", "td"}),
    "half_subset": (2, 1, {"vd", "td"}),
    "double_subset": (8, 4, {"vd", "td"}),
    "full_batch": (16, 16, {"vd", "td"}),
    "clip": (None, 0, set()),
}


def test_every_variant_is_tested() -> None:
    assert set(EXPECTED) == set(VARIANTS)
    with pytest.raises(KeyError, match="valid: default"):
        variant_overrides("nope")


@pytest.mark.parametrize("name", list(EXPECTED))
def test_variant_losses_and_rows_seen(name: str) -> None:
    task, out = _run(name)
    image_rows, text_rows, extra = EXPECTED[name]
    assert set(out) - {"loss", "logit_scale"} == {"clip"} | extra
    torch.testing.assert_close(out["loss"], sum(out[k] for k in {"clip"} | extra))
    if image_rows is None:
        assert len(task.vision_teachers) == 0 and len(task.vision_distill) == 0
    else:
        assert task.vision_teachers["dinov2_tiny_random"].rows_seen == image_rows
    assert task.text_teacher.rows_seen == text_rows
    cfg = task.cfg
    assert (task.text_distill is None) == (text_rows == 0)
    assert isinstance(task.text.token_proj, torch.nn.Linear) == cfg.text.word_embedding_projection
    assert (task.vision.vit.mask_token is not None) == (name == "image_mask")
    if name == "no_text_teacher":  # Table 7.8 row 2: embedding projection N/A, the teacher lends its tokenizer
        assert not task.text_teacher.has_model
    if name == "no_text_mask":
        assert cfg.distill.text_mask_ratio == 0.0


def test_text_masking_changes_the_text_distillation_only() -> None:
    _, masked = _run("default")
    _, plain = _run("no_text_mask")
    torch.testing.assert_close(masked["clip"], plain["clip"])
    torch.testing.assert_close(masked["vd"], plain["vd"])
    assert not torch.allclose(masked["td"], plain["td"])
