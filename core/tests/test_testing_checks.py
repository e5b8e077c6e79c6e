"""The shared test checks of sparse_core.testing accept what they should and refuse what they should."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sparse_core.cli import run_cli
from sparse_core.suite import StudyConfig, study_main
from sparse_core.testing import (
    assert_rejects_unknown_key,
    assert_seed_decides_weights,
    assert_study_has_common_shape,
    call_main,
)


@dataclass
class _Cfg:
    """A one-key CLI config."""

    width: int = 3
    """Some width."""


def _typed_main(argv: list[str]) -> int:
    return run_cli(_Cfg, lambda cfg: None, argv, prog="fake")


def _raising_main(argv: list[str]) -> int:
    raise SystemExit(1)


def test_call_main_captures_status_and_output() -> None:
    def main(argv: list[str]) -> int:
        print("out", argv)
        print("err", file=sys.stderr)
        return 3

    res = call_main(main, ["--a"])
    assert (res.code, res.out, res.err) == (3, "out ['--a']\n", "err\n")
    assert call_main(_raising_main, []).code == 1


def test_unknown_key_check_accepts_run_cli_and_refuses_others() -> None:
    assert_rejects_unknown_key(_typed_main)
    with pytest.raises(AssertionError):
        assert_rejects_unknown_key(_raising_main)
    with pytest.raises(AssertionError):
        assert_rejects_unknown_key(lambda argv: 0)


def test_study_shape_check() -> None:
    @dataclass
    class MyStudyConfig(StudyConfig):
        """A study with one knob."""

        steps: int = 1
        """Steps."""

    good = types.ModuleType("good_study")
    good.StudyConfig, good.MyStudyConfig = StudyConfig, MyStudyConfig  # type: ignore[attr-defined]
    good.main = lambda argv: study_main(MyStudyConfig, lambda cfg: None, argv, "good")  # type: ignore[attr-defined]
    assert_study_has_common_shape(good)
    bare = types.ModuleType("bare_study")
    bare.StudyConfig, bare.main = StudyConfig, good.main  # type: ignore[attr-defined]
    with pytest.raises(AssertionError):
        assert_study_has_common_shape(bare)  # no subclass of its own


def _fake_train(seeded: bool) -> object:
    def main(argv: list[str]) -> int:
        args = dict(zip(argv[::2], argv[1::2]))
        gen = torch.Generator().manual_seed(int(args["--train.seed"])) if seeded else None
        out = Path(args["--train.out_dir"])
        out.mkdir(parents=True)
        save_file({"w": torch.randn(4, generator=gen)}, str(out / "w.safetensors"))
        return 0

    return main


def test_seed_check_tells_a_seeded_training_from_one_that_reads_the_global_rng(tmp_path: Path) -> None:
    assert_seed_decides_weights(_fake_train(True), [], "w.safetensors", tmp_path / "a", seed=1, other_seed=2)
    with pytest.raises(AssertionError):
        assert_seed_decides_weights(_fake_train(False), [], "w.safetensors", tmp_path / "b", seed=1, other_seed=2)
    with pytest.raises(AssertionError):  # the other seed must give other weights
        assert_seed_decides_weights(_fake_train(True), [], "w.safetensors", tmp_path / "c", seed=1, other_seed=1)
