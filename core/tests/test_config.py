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


@dataclass
class FlagsCfg:
    """Options spelled as argparse would."""

    quick: bool = False
    only: list[str] | None = None
    batch_size: int = 4
    model: ModelCfg = field(default_factory=ModelCfg)


def test_argparse_spellings_are_accepted() -> None:
    cfg = parse_config(FlagsCfg, ["--quick", "--only", "core", "dilemma", "--batch-size", "8"])
    assert cfg.quick is True and cfg.only == ["core", "dilemma"] and cfg.batch_size == 8
    cfg = parse_config(FlagsCfg, ["--only", "[core]", "--quick", "false", "--model.keep_ratio=0.2"])
    assert cfg.only == ["core"] and cfg.quick is False and cfg.model.keep_ratio == 0.2
    assert parse_config(FlagsCfg, ["--only", "core"]).only == ["core"]
    with pytest.raises(ConfigError, match="batch-sise"):
        parse_config(FlagsCfg, ["--batch-sise", "8"])


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


# --- the CLI entry (sparse_core.cli.run_cli): exit statuses and one-line messages --------------------------


def _entry(run, argv, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from sparse_core.cli import run_cli

    code = run_cli(RunCfg, run, argv, prog="demo-train")
    return code, capsys.readouterr().err


def test_cli_success_returns_zero_and_passes_the_parsed_config(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[RunCfg] = []
    code, err = _entry(seen.append, ["--model.keep_ratio", "0.3"], capsys)
    assert code == 0 and err == ""
    assert seen[0].model.keep_ratio == 0.3 and seen[0].model.name == ModelCfg().name
    code, _ = _entry(lambda cfg: 1, [], capsys)  # an int returned by the run is the exit status
    assert code == 1


@pytest.mark.parametrize("argv, key", [(["--model.keep_ration", "0.3"], "keep_ration"),
                                       (["--no.such_key", "1"], "no.such_key"),
                                       (["--train.batch_size", "many"], "batch_size"),
                                       (["--train.precision", "fp8"], "precision")])
def test_cli_config_error_is_one_line_and_exit_2(argv: list[str], key: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ran: list[RunCfg] = []
    code, err = _entry(ran.append, argv, capsys)
    assert code == 2 and not ran
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo-train: ") and key in lines[0]
    assert "Traceback" not in err


def test_cli_unknown_key_names_the_valid_keys_of_its_level(capsys: pytest.CaptureFixture[str]) -> None:
    _, err = _entry(print, ["--no.such_key", "1"], capsys)
    assert "valid keys here: model, train, optim" in err  # 'no' is not a group: the top-level keys
    _, err = _entry(print, ["--model.keep_ration", "0.3"], capsys)
    assert "valid keys here: name, keep_ratio" in err


def test_cli_errors_raised_by_the_run_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sparse_core.cli import require_path
    from sparse_core.data import DatasetError

    def needs_data(cfg: RunCfg) -> None:
        require_path(tmp_path / "absent", "data.root", "dir")

    code, err = _entry(needs_data, [], capsys)
    assert code == 2 and err.strip() == f"demo-train: data.root: no such folder: {tmp_path / 'absent'}"

    def empty_folder(cfg: RunCfg) -> None:
        raise DatasetError(f"{tmp_path} holds no images\n(expected root/<class>/<image>)")

    code, err = _entry(empty_folder, [], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "holds no images" in err

    def bug(cfg: RunCfg) -> None:
        raise RuntimeError("a bug, not a user's mistake")

    with pytest.raises(RuntimeError):  # anything else keeps its traceback
        _entry(bug, [], capsys)


def test_require_path_kinds(tmp_path: Path) -> None:
    from sparse_core.cli import require_path

    (tmp_path / "f.txt").write_text("x")
    assert require_path(tmp_path / "f.txt", "weights", "file") == tmp_path / "f.txt"
    assert require_path(str(tmp_path), "root", "dir") == tmp_path
    with pytest.raises(ConfigError, match="root: no such folder"):
        require_path(tmp_path / "f.txt", "root", "dir")
    with pytest.raises(ConfigError, match="checkpoint is required"):
        require_path(None, "checkpoint")


def test_every_core_console_script_rejects_an_unknown_key() -> None:
    from sparse_core.testing import assert_rejects_unknown_key, console_scripts

    scripts = console_scripts("sparse-core")
    assert {"sparse-ssl-demo", "sparse-ssl-bench", "sparse-core-bench"} <= set(scripts)
    for entry in scripts.values():
        assert_rejects_unknown_key(entry)


def test_core_console_scripts_help_and_argument_errors_import_no_torch() -> None:
    """``--help`` and a bad argument load none of torch, timm, transformers...: that is what makes them fast."""
    from sparse_core.testing import assert_light_cli, console_scripts

    for entry in console_scripts("sparse-core").values():
        assert_light_cli(entry)
    assert_light_cli(console_scripts("sparse-core")["sparse-core-bench"], [["--help"], ["--repeats", "2"]])


def test_the_probe_sees_a_heavy_import() -> None:
    """The check can fail: a script whose call imports torch is reported."""
    from importlib.metadata import EntryPoint

    from sparse_core.testing import heavy_imports

    entry = EntryPoint("sparse-gpu-suite", "sparse_core.gpu_suite:main", "console_scripts")  # imports torch
    codes, heavy = heavy_imports(entry, [["--help"]])
    assert codes == [0] and "torch" in heavy


def test_lead_puts_a_commands_own_keys_first_in_help_and_parses_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    """``lead``: the named key and group lead the usage line and the groups; parsing is unchanged."""
    from sparse_core.config import build_parser

    page = build_parser(RunCfg, prog="x", lead=("optim",)).format_help()
    usage = page[:page.index("\n\n")]
    assert usage.index("--optim.lr") < usage.index("--train.out_dir")
    plain = build_parser(RunCfg, prog="x").format_help()
    assert plain.index("--train.out_dir") < plain.index("--optim.lr")  # the dataclass order without lead
    assert parse_config(RunCfg, ["--optim.lr", "0.5"], lead=("optim",)) == parse_config(RunCfg, ["--optim.lr", "0.5"])
