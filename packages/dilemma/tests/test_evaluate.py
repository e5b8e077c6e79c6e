"""Evaluation helpers: the mismatch metrics on a real (tiny) backbone, and the train / eval mode they leave."""

from __future__ import annotations

import pytest
import torch
from dilemma_test_utils import tiny_method, tiny_model

from dilemma_ssl import evaluate as ev
from dilemma_ssl.mismatch import num_corrupted
from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants.mocov3 import MoCoV3DilemmaTask


def _task() -> MoCoV3DilemmaTask:
    torch.manual_seed(0)
    return MoCoV3DilemmaTask(tiny_model(), tiny_method(), SparsitySchedule.constant(8, 0.5), seed=0)


def _images(n: int = 12) -> list[dict[str, object]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 16, 16, generator=g)
    x[:, :, :8, :8] = 0.0  # a blank quarter: swaps among its 4 patches are undetectable
    return [{"image": x[i], "label": i % 2} for i in range(n)]


def _modes(module: torch.nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in module.named_modules()}


@pytest.mark.parametrize("start", ["train", "mixed", "eval"])
def test_evaluation_gives_back_the_modes_it_found(start: str) -> None:
    task = _task()
    task.train(start != "eval")
    if start == "mixed":
        task.teacher.eval()  # a part in eval inside a training task stays so
    before = _modes(task)
    ev.mismatch_metrics(task.backbone, task.objective, _images(), 0.5, batch_size=4)
    ev.features(task.backbone, _images(), batch_size=4)
    assert _modes(task) == before


def test_eval_mode_is_on_inside_and_restored_after_an_error() -> None:
    task = _task().train()
    with pytest.raises(RuntimeError), ev.eval_mode(task.backbone, task.objective):
        assert not task.backbone.training and not task.objective.training
        raise RuntimeError("boom")
    assert task.backbone.training and task.objective.training


@pytest.mark.parametrize("sparsity", [0.5, 0.0])
def test_mismatch_metrics_on_a_backbone(sparsity: float) -> None:
    task = _task()
    m = ev.mismatch_metrics(task.backbone, task.objective, _images(), sparsity, batch_size=4)
    k = 16 if sparsity == 0.0 else 8
    assert m["prior_acc"] == pytest.approx(100.0 * (1 - num_corrupted(k, 0.2) / k))
    assert 0.0 <= m["auroc"] <= 1.0 and m["bce"] > 0 and m["entropy"] > 0
    assert m["bce_rel"] == pytest.approx(m["bce"] / m["entropy"])
    assert 0.0 <= m["undetectable"] <= 100.0 and m["acc_bound"] <= 100.0


def test_no_detection_head_gives_nan_metrics() -> None:
    torch.manual_seed(0)
    task = MoCoV3DilemmaTask(tiny_model(), tiny_method(objective="none"), SparsitySchedule.constant(8, 0.5))
    m = ev.mismatch_metrics(task.backbone, task.objective, _images(), 0.5)
    assert set(m) == set(ev.MISMATCH_KEYS) and all(v != v for v in m.values())
