"""Progress by default: a bar on a terminal, ETA lines otherwise (fake clock and streams; no timing)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest

from sparse_core.config import ConfigError, parse_config
from sparse_core.engine import TrainConfig
from sparse_core.engine.progress import Progress, format_eta, resolve_progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    assert resolve_progress("auto", _Tty()) == "bar" and resolve_progress("auto", io.StringIO()) == "lines"
    assert resolve_progress(True, io.StringIO()) == "bar" and resolve_progress(False, _Tty()) == "off"
    with pytest.raises(ValueError, match="progress must be one of"):
        resolve_progress("sometimes")


def test_lines_carry_count_rate_and_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    p = Progress(100, mode="auto", desc="run", stream=out, clock=lambda: now[0])
    for _ in range(10):
        now[0] += 0.5  # 2 steps/s -> after 10 steps, 90 left: 45 s
        p.update(loss="0.5")
    assert out.getvalue().splitlines() == ["run: 5/100 step (5%), 2 step/s, ETA 48s, loss=0.5",
                                           "run: 10/100 step (10%), 2 step/s, ETA 45s, loss=0.5"]
    assert format_eta(3 * 3600 + 120) == "3h02m" and format_eta(207) == "3m27s" and format_eta(float("nan")) == "?"


def test_off_prints_nothing_and_the_end_is_always_shown() -> None:
    out = io.StringIO()
    Progress(3, mode=False, stream=out).update(3)
    assert out.getvalue() == ""
    p = Progress(7, mode="auto", desc="x", every=5, stream=out, clock=lambda: 1.0)
    for _ in range(7):
        p.update()
    assert [line.split(" ")[1] for line in out.getvalue().splitlines()] == ["5/7", "7/7"]


def test_train_progress_defaults_to_auto_and_is_checked() -> None:
    assert TrainConfig().progress == "auto"

    @dataclass
    class Run:
        train: TrainConfig = field(default_factory=TrainConfig)

    assert parse_config(Run, ["--train.progress", "false"]).train.progress is False
    assert parse_config(Run, ["--train.progress", "auto"]).train.progress == "auto"
    with pytest.raises(ConfigError, match="train.progress must be 'auto', true or false"):
        TrainConfig(progress="sometimes")


def test_updates_of_several_units_still_cross_each_interval() -> None:
    out = io.StringIO()
    p = Progress(100, mode="auto", desc="enc", every=10, stream=out, clock=lambda: 1.0)
    for n in (7, 7, 7, 79, 5):  # 7, 14, 21, 100, 105
        p.update(n)
    assert [line.split(" ")[1] for line in out.getvalue().splitlines()] == ["14/100", "21/100", "100/100"]
