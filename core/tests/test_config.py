"""Config parsing: YAML + dotted overrides, unknown keys rejected with valid choices, --help, saved config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from sparse_core.config import ConfigError, parse_config, save_config
from sparse_core.engine import OptimConfig, TrainConfig


@dataclass
class ModelCfg:
    """Model options."""

    name: str = "sparse_vit_tiny_patch16_224"
    """timm model name."""
    keep_ratio: float = 0.5
    """Fraction of tokens kept."""


@dataclass
class RunCfg:
    """A package's run config."""

    model: ModelCfg = field(default_factory=ModelCfg)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


def test_defaults_yaml_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text("model:\n  keep_ratio: 0.25\ntrain:\n  batch_size: 16\n")
    cfg = parse_config(RunCfg, ["--config", "tiny", "--optim.lr", "0.01", "--train.precision", "bf16"],
                       config_dir=tmp_path)
    assert isinstance(cfg.model, ModelCfg) and isinstance(cfg.train, TrainConfig)
    assert cfg.model.keep_ratio == 0.25 and cfg.train.batch_size == 16
    assert cfg.optim.lr == 0.01 and cfg.train.precision == "bf16"
    assert cfg.model.name == "sparse_vit_tiny_patch16_224"
    # later flags override the YAML
    cfg = parse_config(RunCfg, ["--config", str(tmp_path / "tiny.yaml"), "--model.keep_ratio", "0.9"])
    assert cfg.model.keep_ratio == 0.9


def test_unknown_keys_rejected_with_valid_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"valid keys here: name, keep_ratio"):
        parse_config(RunCfg, ["--model.keep_ration", "0.3"])
    with pytest.raises(ConfigError, match=r"unrecognized arguments: --model.keep_rat"):
        parse_config(RunCfg, ["--model.keep_rat", "0.3"])  # no silent expansion of abbreviations
    (tmp_path / "bad.yaml").write_text("model:\n  keep_ration: 0.3\n")
    with pytest.raises(ConfigError, match=r"'model.keep_ration'.*keep_ratio"):
        parse_config(RunCfg, ["--config", str(tmp_path / "bad.yaml")])
    (tmp_path / "tiny.yaml").write_text("train: {}\n")
    with pytest.raises(ConfigError, match=r"shipped configs: bad, tiny"):
        parse_config(RunCfg, ["--config", "paper"], config_dir=tmp_path)


def test_wrong_type_and_invalid_value_rejected() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        parse_config(RunCfg, ["--train.batch_size", "many"])
    with pytest.raises((ConfigError, ValueError), match="precision"):
        parse_config(RunCfg, ["--train.precision", "fp8"])


def test_help_lists_options_defaults_and_docs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_config(RunCfg, ["--help"], prog="demo-train")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--model.keep_ratio" in out and "default: 0.5" in out
    assert "Fraction of tokens kept" in out
    assert "--optim.layer_decay" in out


def test_saved_config_round_trips(tmp_path: Path) -> None:
    cfg = parse_config(RunCfg, ["--model.keep_ratio", "0.3", "--optim.betas", "[0.9, 0.95]"])
    path = save_config(cfg, tmp_path / "config.yaml")
    assert yaml.safe_load(path.read_text())["model"]["keep_ratio"] == 0.3
    again = parse_config(RunCfg, ["--config", str(path)])
    assert again == cfg
