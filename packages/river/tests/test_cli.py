"""Command-line tools: help, config errors, every shipped config parses, and the whole tiny pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from river_vp.cli import encode, evaluate, predict, train, train_ae
from river_vp.cli.stages import STAGES
from river_vp.config import config_dir
from sparse_core.config import parse_config
from sparse_core.testing import (
    assert_kill_and_resume_is_exact,
    assert_rejects_unknown_key,
    assert_seed_decides_weights,
    assert_study_has_common_shape,
    console_scripts,
)

CLIS = [train_ae, encode, train, predict, evaluate]
TINY_DATA = ["--data.image_size", "16", "--data.num_frames", "6"]
TINY_AE = ["--config", "tiny", "--train.max_steps", "2", "--train.batch_size", "4", "--model.ch", "16",
           "--model.resolution", "16", "--data.num_videos", "4", *TINY_DATA]


@pytest.mark.parametrize("module", CLIS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_help(module, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    assert "--config" in capsys.readouterr().out


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_shipped_configs_parse(stage: str) -> None:
    names = sorted(p.stem for p in config_dir(stage).glob("*.yaml"))
    assert "tiny" in names and len(names) >= 5 - (stage in ("predict", "eval", "encode"))
    for name in names:
        cfg = parse_config(STAGES[stage].config, ["--config", name], config_dir=config_dir(stage))
        assert isinstance(cfg, STAGES[stage].config)


def test_bad_config_key_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(["--config", "tiny", "--model.nheads", "3"]) == 2
    assert "nheads" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  widht: 3\n")
    assert train.main(["--config", str(bad)]) == 2
    assert "widht" in capsys.readouterr().err
    assert train.main(["--config", "tiny", "--latents", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "latents" in err and "missing" in err and len(err.strip().splitlines()) == 1


SCRIPTS = console_scripts("river-vp")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_rejects_an_unknown_key(script: str) -> None:
    assert_rejects_unknown_key(SCRIPTS[script])


def test_tiny_pipeline_end_to_end(tmp_path: Path, tiny_ae_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 1. autoencoder training runs (2 steps) and exports weights
    ae_out = tmp_path / "ae"
    assert train_ae.main([*TINY_AE, "--train.out_dir", str(ae_out)]) == 0
    assert (ae_out / "vqgan.safetensors").is_file() and (ae_out / "metrics.jsonl").is_file()
    # 2. encode procedural videos with the (fixture) autoencoder
    lat = tmp_path / "latents"
    assert encode.main(
        [
            "--config",
            "tiny",
            "--autoencoder",
            str(tiny_ae_dir),
            "--out",
            str(lat),
            "--data.num_videos",
            "6",
            *TINY_DATA,
        ]
    ) == 0
    index = json.loads((lat / "index.json").read_text())
    assert len(index["videos"]) == 6 and index["latent_shape"] == [4, 4, 4] and index["num_skipped"] == 0
    # 3. flow training, a shape mismatch is a config error
    assert train.main(["--config", "tiny", "--latents", str(lat)]) == 2
    assert "latent cache" in capsys.readouterr().err
    flow_out = tmp_path / "flow"
    assert train.main(
        [
            "--config",
            "tiny",
            "--latents",
            str(lat),
            "--model.state_size",
            "4",
            "--model.width",
            "32",
            "--model.num_heads",
            "2",
            "--train.out_dir",
            str(flow_out),
            "--train.max_steps",
            "2",
            "--train.batch_size",
            "4",
        ]
    ) == 0
    assert (flow_out / "river.safetensors").is_file()
    # 4. prediction writes MP4, GIF and PNG
    pred_out = tmp_path / "pred"
    sample = ["--config", "tiny", "--model", str(flow_out), "--autoencoder", str(tiny_ae_dir), "--num_context", "2",
              "--num_future", "3", "--num_samples", "2", "--sampler.steps", "2", *TINY_DATA]
    assert predict.main([*sample, "--out_dir", str(pred_out), "--num_videos", "1"]) == 0
    for suffix in ("mp4", "gif"):
        f = pred_out / f"video_000.{suffix}"
        assert f.is_file() and f.stat().st_size > 100
    from PIL import Image

    grid = Image.open(pred_out / "video_000_grid.png")  # rows: ground truth, 2 samples, copy-last
    assert grid.size[1] == 4 * (2 * 16 + 2)  # each row: frames upscaled x2 plus a 1-pixel frame on both sides
    import imageio.v3 as iio

    frames = iio.imread(pred_out / "video_000.gif")
    assert frames.shape[0] == 5  # 2 given + 3 predicted
    # 5. evaluation writes metrics with the copy-last baseline and AE-GT variant
    ev_out = tmp_path / "eval"
    assert evaluate.main([*sample, "--out_dir", str(ev_out), "--num_videos", "2", "--sampler.method", "rk4",
                          "--one_step", "true"]) == 0
    metrics = json.loads((ev_out / "metrics.json").read_text())["metrics"]
    for key in ("psnr_gt", "ssim_gt", "psnr_gt_best", "psnr_ae", "psnr_copy_last", "psnr_ae_recon", "mse_gt",
                "mse_copy_last", "psnr_mean_frame", "ssim_black", "latent_mse_one_step", "latent_mse_copy",
                "psnr_one_step", "psnr_copy_one_step"):
        assert key in metrics and torch.isfinite(torch.tensor(metrics[key]))
    curves = json.loads((ev_out / "metrics.json").read_text())["curves"]
    assert all(len(curves[k]) == 3 for k in ("mse_gt", "psnr_gt", "ssim_gt", "ssim_copy_last"))  # per frame
    assert metrics["psnr_gt_best"] >= metrics["psnr_gt"] - 1e-6
    assert (ev_out / "metrics.md").is_file() and (ev_out / "psnr_per_frame.png").is_file()


def test_study_has_the_common_shape() -> None:
    from river_vp import study

    assert_study_has_common_shape(study)


def test_study_keeps_a_finished_seed(tmp_path: Path) -> None:
    """A seed folder with its table is not retrained nor re-evaluated: the study resumes after a crash."""
    from river_vp import study

    rows = {study.REF: {"psnr_gt": 12.5, "ssim_gt": 0.2}, "copy last frame": {"psnr_gt": 11.8}}
    (tmp_path / "study.json").write_text(json.dumps(rows))
    assert study.run_study(tmp_path, tmp_path / "ae", tmp_path / "latents", flow_steps=1, test_videos=1) == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.json"]  # nothing trained


def test_same_seed_gives_bitwise_equal_autoencoder(tmp_path: Path) -> None:
    """river-train-ae: --train.seed covers the model's initialisation, whatever the global RNG state was."""
    assert_seed_decides_weights(train_ae.main, TINY_AE, "vqgan.safetensors", tmp_path, seed=3, other_seed=4)


def test_kill_and_resume_gives_the_uninterrupted_autoencoder(tmp_path: Path) -> None:
    """river-train-ae killed at step 3 and started again ends bitwise where an uninterrupted run ends."""
    from river_vp.tasks.autoencoder import AutoencoderTask

    argv = [*TINY_AE, "--train.max_steps", "5", "--train.ckpt_every", "2"]
    assert_kill_and_resume_is_exact(train_ae.main, argv, "vqgan.safetensors", tmp_path, AutoencoderTask, 3)


@pytest.fixture
def tiny_latents(tmp_path: Path, tiny_ae_dir: Path) -> Path:
    """Six procedural videos encoded by the tiny fixture autoencoder (4x4x4 latents)."""
    lat = tmp_path / "latents"
    assert encode.main(["--config", "tiny", "--autoencoder", str(tiny_ae_dir), "--out", str(lat),
                        "--data.num_videos", "6", *TINY_DATA]) == 0
    return lat


def _tiny_flow(latents: Path) -> list[str]:
    return ["--config", "tiny", "--latents", str(latents), "--model.state_size", "4", "--model.width", "32",
            "--model.num_heads", "2", "--train.batch_size", "4"]


def test_same_seed_gives_bitwise_equal_flow(tmp_path: Path, tiny_latents: Path) -> None:
    """river-train: --train.seed alone decides the vector field's weights."""
    argv = [*_tiny_flow(tiny_latents), "--train.max_steps", "2"]
    assert_seed_decides_weights(train.main, argv, "river.safetensors", tmp_path / "seed", seed=3, other_seed=4)


def test_kill_and_resume_gives_the_uninterrupted_flow(tmp_path: Path, tiny_latents: Path) -> None:
    """river-train killed at step 3 and started again ends bitwise where an uninterrupted run ends."""
    from river_vp.tasks.flow import RiverTask

    argv = [*_tiny_flow(tiny_latents), "--train.max_steps", "5", "--train.ckpt_every", "2"]
    assert_kill_and_resume_is_exact(train.main, argv, "river.safetensors", tmp_path / "kill", RiverTask, 3)


def test_study_reading_states_each_rows_margin_and_verdict() -> None:
    """The reading's numbers are the rows' seed means; a rollout-only row gets no one-step line; a row with
    >= +2 dB and higher SSIM than copy-last is 'met', the others 'not met'."""
    from river_vp import study

    def seed(d: float) -> list[dict[str, float | str]]:
        one = {"latent_mse_one_step": 0.5 + d}
        return [{"run": study.REF, "psnr_gt": 12.5 + d, "ssim_gt": 0.50, **one},
                {"run": study.BEST, "psnr_gt": 14.5 + d, "ssim_gt": 0.52},
                {"run": "w/o reference (Table 5.3)", "psnr_gt": 11.0},
                {"run": "RIVER, context window 2 (Table 5.4)", "psnr_gt": 12.8},
                {"run": "RIVER, Euler 1 step (its conditional mean)", "psnr_gt": 13.0, "ssim_gt": 0.4, **one},
                {"run": "same network as a next-latent regressor", "psnr_gt": 13.5, "ssim_gt": 0.4, **one},
                {"run": "copy last frame", "psnr_gt": 12.0, "ssim_gt": 0.51, "latent_mse_one_step": 0.6},
                {"run": "mean of the given frames", "psnr_gt": 12.2, "ssim_gt": 0.3},
                {"run": "all-black frame", "psnr_gt": 11.0, "ssim_gt": 0.6},
                {"run": "autoencoder reconstruction (ceiling)", "psnr_gt": 24.0}]

    text = study.reading([seed(0.0), seed(0.2)])
    assert f"{study.BEST}: +2.60 dB" in text and "higher SSIM: met" in text
    assert "Rollout, RIVER vs copy-last: +0.60 dB" in text and "**not met**" in text
    assert f"from the true past, {study.BEST}" not in text
    assert f"from the true past, {study.REF}: 0.600 ± 0.141 vs copying 0.600: **not below copying**" in text
