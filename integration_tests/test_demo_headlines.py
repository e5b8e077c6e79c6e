"""Every installed demo stage returns a typed Headline that measures the trained model against its baseline."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sparse_core.suite import Headline, StageResult

# the flat metrics each stage's demo_headline reads, and (trained key, {baseline name: key}) it must report
CASES: dict[str, tuple[dict[str, float], tuple[Any, ...], str, dict[str, str]]] = {
    "core": ({"step_small_keep0.35_speedup": 2.7}, (), "step_small_keep0.35_speedup", {}),
    "dilemma": ({"knn_trained": 45.0, "knn_random": 27.0, "knn_pixels": 23.4}, (), "knn_trained",
                {"random init": "knn_random"}),
    "river": ({"psnr_gt": 24.0, "psnr_copy_last": 21.0, "psnr_ae_recon": 27.0}, (), "psnr_gt",
              {"copy last frame": "psnr_copy_last"}),
    "vidrop": ({"knn_top1": 40.0, "knn_top1_random": 14.0, "linear_top1": 44.0, "linear_top1_random": 16.0,
                "knn_top1_pixels": 20.0, "motion_knn_top1": 30.0, "motion_knn_top1_random": 15.0}, (), "knn_top1",
               {"random init": "knn_top1_random"}),
    "scale": ({"linear_top1": 60.0, "linear_top1_frozen_base": 50.0}, (12.5,), "linear_top1",
              {"frozen base": "linear_top1_frozen_base"}),
    "sfclip": ({"zeroshot_top1_sfclip": 35.0, "zeroshot_top1_clip": 30.0, "zeroshot_top1_random": 3.0}, (),
               "zeroshot_top1_sfclip", {"CLIP, equal steps": "zeroshot_top1_clip"}),
}


def _demo_modules() -> dict[str, str]:
    return {ep.name: ep.value.split(":")[0] for ep in entry_points(group="sparse_ssl.demo")}


def test_every_installed_demo_stage_has_a_headline_builder() -> None:
    assert set(_demo_modules()) <= set(CASES), "a new demo stage: add its headline case here"


@pytest.mark.parametrize("stage", sorted(CASES))
def test_demo_headline_reports_trained_against_its_baseline(stage: str) -> None:
    module = _demo_modules().get(stage)
    if module is None:
        pytest.skip(f"demo stage {stage} not installed")
    metrics, extra, trained, baselines = CASES[stage]
    h = importlib.import_module(module).demo_headline(metrics, *extra)
    assert isinstance(h, Headline) and h.higher_is_better is True
    assert h.trained == metrics[trained]
    if stage == "core":
        assert h.baselines == {"dense": 1.0} and h.references == {"ideal 1/keep": pytest.approx(1 / 0.35)}
        assert h.margin() == pytest.approx(metrics[trained] - 1.0)
    else:
        assert h.baselines == {name: metrics[key] for name, key in baselines.items()}
        assert h.margin() == pytest.approx(metrics[trained] - next(iter(h.baselines.values())))
    assert h.describe().startswith(h.metric)


def test_core_run_returns_its_speedup_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = pytest.importorskip("sparse_core.demo")
    speed = StageResult(summary="| speed |", metrics={"small_keep0.35_speedup": 2.6, "small_keep0.15_speedup": 4.0})
    monkeypatch.setattr(demo, "_token_figure", lambda path: path)
    monkeypatch.setattr(demo, "_flops_table", lambda: [{"keep": 1.0, "tokens": 197, "gflops": 4.6, "flops_ratio": 1.0},
                                                      {"keep": 0.35, "tokens": 69, "gflops": 1.6,
                                                       "flops_ratio": 0.35}])
    monkeypatch.setattr(demo, "_speed_table", lambda out: speed)
    monkeypatch.setattr(demo, "_knn_floor", lambda: {"pixels": 23.0})
    result = demo.run(tmp_path)
    assert result.headline == demo.demo_headline(result.metrics)
    assert result.headline.trained == 2.6 and result.metrics["step_small_keep0.35_speedup"] == 2.6
    assert result.metrics["flops_ratio_keep0.35"] == 0.35 and result.metrics["knn_pixels"] == 23.0


def test_river_run_returns_its_copy_last_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = pytest.importorskip("river_vp.demo")
    metrics = {"psnr_gt": 23.0, "ssim_gt": 0.8, "psnr_ae": 25.0, "ssim_ae": 0.85, "psnr_copy_last": 20.0,
               "ssim_copy_last": 0.7, "psnr_copy_last_ae": 20.5, "ssim_copy_last_ae": 0.72, "psnr_ae_recon": 28.0}
    calls: list[str] = []
    cfgs: dict[str, object] = {}
    for name in ("train_ae", "encode", "train"):
        monkeypatch.setattr(demo, name, SimpleNamespace(
            run=lambda cfg, name=name: (calls.append(name), cfgs.__setitem__(name, cfg))))
    monkeypatch.setattr(demo, "predict", SimpleNamespace(
        run=lambda cfg: (cfgs.__setitem__("predict", cfg), {"outputs": [tmp_path / "p.gif"]})[1]))
    monkeypatch.setattr(demo, "evaluate", SimpleNamespace(
        run=lambda cfg: (cfgs.__setitem__("eval", cfg), {"metrics": metrics, "num_videos": 4})[1]))
    result = demo.run(tmp_path)
    assert calls == ["train_ae", "encode", "train"]
    # the demo's named deviations reach the flow's training and both samplers
    assert cfgs["train"].condition.window == demo.WINDOW  # type: ignore[attr-defined]
    assert cfgs["predict"].sampler.temperature == cfgs["eval"].sampler.temperature == demo.TEMPERATURE  # type: ignore[attr-defined]
    assert result.headline == demo.demo_headline(result.metrics)
    assert result.headline.trained == 23.0 and result.headline.baselines == {"copy last frame": 20.0}
    assert result.headline.margin() == pytest.approx(3.0) and result.headline.is_clear() is True


def test_vidrop_run_returns_its_random_init_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = pytest.importorskip("vidrop.demo")
    from sparse_core.data.fashion_mnist import ROOT_ENV
    from sparse_core.testing import write_fashion_mnist

    monkeypatch.setenv(ROOT_ENV, str(write_fashion_mnist(tmp_path / "fashion_mnist")))  # the garments
    train_cli = importlib.import_module("vidrop.cli.train")
    loading = importlib.import_module("vidrop.evaluation.loading")
    codec = {"codes_root": tmp_path / "codes", "psnr_db": 30.0, "compression_factor": 48.0, "encode_fps": 100.0,
             "fit_s": 1.0, "gif": tmp_path / "codec.gif"}
    # content: random init, trained; motion: random init, trained
    probes = iter([{"knn_top1": 14.0, "linear_top1": 15.0}, {"knn_top1": 35.0, "linear_top1": 40.0},
                   {"knn_top1": 13.0, "linear_top1": 14.0}, {"knn_top1": 30.0, "linear_top1": 33.0}])
    monkeypatch.setattr(demo, "_codec_stage", lambda out, train, test: codec)
    monkeypatch.setattr(train_cli, "train", lambda cfg: {"steps": 2, "backbone": None, "metrics": {"loss": 1.0}})
    monkeypatch.setattr(loading, "load_backbone", lambda encoder, backbone: None)
    monkeypatch.setattr(demo, "run_protocols", lambda *args: next(probes))
    monkeypatch.setattr(demo, "_handmade_baseline", lambda *args: {"knn_top1": 20.0, "linear_top1": 25.0})
    monkeypatch.setattr(demo, "learning_figure", lambda path, *args: path)
    result = demo.run(tmp_path, steps=2)
    assert result.headline == demo.demo_headline(result.metrics)
    assert result.headline.trained == 35.0 and result.headline.baselines == {"random init": 14.0}
    assert result.headline.references["k-NN, mean-frame pixels"] == 20.0
    assert result.headline.references["motion k-NN, trained"] == 30.0
    assert result.headline.is_clear() is True and result.metrics["codec_psnr_db"] == 30.0


def test_dilemma_run_returns_its_random_init_headline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = pytest.importorskip("dilemma_ssl.demo")
    import torch

    from dilemma_ssl import runner

    def fake_train(cfg: Any, evaluate: bool) -> dict[str, Any]:
        path = tmp_path / "ckpt.pt"
        torch.save({"task": runner.build_task(cfg).state_dict()}, path)
        return {"train": {"checkpoint": str(path), "steps": 2}}

    scores = iter([{"knn": 26.0, "linear": 30.0, "md_acc": 80.0, "jaccard": 10.0},
                   {"knn": 44.0, "linear": 50.0, "md_acc": 95.0, "jaccard": 30.0}])
    monkeypatch.setattr(runner, "train", fake_train)
    monkeypatch.setattr(demo, "_scores", lambda task, cfg: next(scores))
    monkeypatch.setattr(demo, "_pixel_knn", lambda cfg: 23.4)
    monkeypatch.setattr(demo, "learning_figure", lambda path, *args: path)
    result = demo.run(tmp_path, max_steps=2, config="tiny")
    assert result.headline == demo.demo_headline(result.metrics)
    assert result.headline.trained == 44.0 and result.headline.baselines == {"random init": 26.0}
    assert result.headline.references == {"raw pixels": 23.4} and result.headline.is_clear() is True
