"""CLIs: --help, config errors, a whole tiny training + evaluation from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparse_core.testing import (
    assert_kill_and_resume_is_exact,
    assert_rejects_unknown_key,
    assert_seed_decides_weights,
    assert_study_has_common_shape,
    console_scripts,
)
from vidrop.cli import compress, evaluate
from vidrop.cli import train as train_cli

TINY = ["--config", "tiny", "--train.max_steps", "3", "--train.batch_size", "4", "--data.num_videos", "8",
        "--encoder.depth", "1", "--encoder.embed_dim", "48", "--encoder.num_heads", "2", "--head.out_dim", "64",
        "--head.patch_out_dim", "64", "--head.hidden_dim", "64", "--views.num_local", "1"]


@pytest.mark.parametrize("main", [train_cli.main, evaluate.main, compress.main])
def test_help_exits_zero(main, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out.lower()


def test_train_help_lists_nested_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train_cli.main(["--help"])
    text = capsys.readouterr().out
    for opt in ("--tokens.drop_ratio", "--loss.variant", "--views.num_local", "--data.source", "--init.kind"):
        assert opt in text


def test_bad_config_key_is_rejected_with_valid_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_cli.main(["--config", "tiny", "--tokens.drop_rate", "0.9"]) == 2
    assert "drop_ratio" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokens:\n  drop_rate: 0.9\n")
    assert train_cli.main(["--config", str(bad)]) == 2
    assert "drop_ratio" in capsys.readouterr().err
    assert train_cli.main(["--config", "no_such_config"]) == 2
    assert "tiny" in capsys.readouterr().err
    assert evaluate.main(["--run_dir", str(tmp_path / "nowhere")]) == 2
    assert "run_dir" in capsys.readouterr().err


def test_compress_options_are_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compress.main(["fit", "--procedural", "2", "--out", str(tmp_path / "cb.npz"), "--cluster", "8"]) == 2
    err = capsys.readouterr().err
    assert "--cluster" in err and "clusters" in err and len(err.strip().splitlines()) == 1
    assert compress.main(["fit", "--out", str(tmp_path / "cb.npz")]) == 2  # neither --videos nor --procedural
    assert "--procedural" in capsys.readouterr().err
    assert compress.main(["squeeze"]) == 2
    assert "fit, encode, decode, psnr" in capsys.readouterr().err
    assert compress.main(["psnr", "--codebook", str(tmp_path / "no.npz"), "--video", "x.mp4"]) == 2
    assert "codebook" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        compress.main(["fit", "--help"])
    assert exc.value.code == 0 and "--patches_per_video" in capsys.readouterr().out


SCRIPTS = console_scripts("vidrop")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_rejects_an_unknown_key(script: str) -> None:
    assert_rejects_unknown_key(SCRIPTS[script])


def test_shipped_configs_parse() -> None:
    from sparse_core.config import parse_config
    from vidrop.config import CONFIG_DIR, ViDROPConfig

    for name in ("tiny", "vitb_k400_kmeans", "vitl_k400_raw"):
        cfg = parse_config(ViDROPConfig, ["--config", name], config_dir=CONFIG_DIR)
        assert cfg.tokens.drop_ratio > 0
    cfg = parse_config(ViDROPConfig, ["--config", "vitb_k400_kmeans"], config_dir=CONFIG_DIR)
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.encoder.embed_dim, cfg.data.source) == (512, 60, 768, "codes")
    assert cfg.tokens.drop_ratio == 0.85 and cfg.views.num_local == 8 and cfg.views.global_frames == 16


def test_tiny_train_then_eval_from_cli(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train_cli.main([*TINY, "--train.out_dir", str(run)]) == 0
    assert (run / "teacher_backbone.safetensors").is_file() and (run / "config.yaml").is_file()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 3 and "ibot_loss" in rows[-1]
    assert evaluate.main(["--config", "tiny", "--run_dir", str(run), "--data.num_videos", "16",
                          "--test_num_samples", "8", "--compare_random", "false",
                          "--probe.protocols", "[knn, attentive]", "--probe.attentive_epochs", "2"]) == 0
    res = json.loads((run / "eval.json").read_text())
    assert 0 <= res["knn_top1"] <= 100 and 0 <= res["attentive_top1"] <= 100
    assert res["num_train"] == 16 and res["num_test"] == 8
    # the engine checkpoint loads as well as the export
    ckpt = next((run / "checkpoints").glob("*.pt"))
    assert evaluate.main(["--config", "tiny", "--run_dir", str(run), "--weights", str(ckpt),
                          "--data.num_videos", "8", "--test_num_samples", "8", "--compare_random", "false",
                          "--probe.protocols", "[knn]", "--out", str(tmp_path / "e.json")]) == 0


def test_study_has_the_common_shape() -> None:
    from vidrop import study

    assert_study_has_common_shape(study)


def test_same_seed_gives_bitwise_equal_weights(tmp_path: Path) -> None:
    """--train.seed covers the model's initialisation: the global RNG state before the run does not matter."""
    assert_seed_decides_weights(train_cli.main, TINY, "teacher_backbone.safetensors", tmp_path, seed=5, other_seed=6,
                                global_seed=1000)


def test_kill_and_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    """vidrop-train killed at step 3 and started again ends bitwise where an uninterrupted run ends."""
    from vidrop.task import ViDROPTask

    argv = [*TINY, "--train.max_steps", "5", "--train.ckpt_every", "2"]
    assert_kill_and_resume_is_exact(train_cli.main, argv, "teacher_backbone.safetensors", tmp_path, ViDROPTask, 3)
