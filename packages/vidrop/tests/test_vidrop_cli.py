"""CLIs: --help, config errors, a whole tiny training + evaluation from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparse_core.config import ConfigError
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


def test_bad_config_key_is_rejected_with_valid_keys(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, SystemExit)) as exc:
        train_cli.main(["--config", "tiny", "--tokens.drop_rate", "0.9"])
    if isinstance(exc.value, ConfigError):
        assert "drop_ratio" in str(exc.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokens:\n  drop_rate: 0.9\n")
    with pytest.raises(ConfigError, match="drop_ratio"):
        train_cli.main(["--config", str(bad)])
    with pytest.raises(ConfigError, match="tiny"):
        train_cli.main(["--config", "no_such_config"])


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
