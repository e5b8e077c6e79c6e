"""``scale-train`` end to end on a small in-memory feature bank: loss goes down, exit codes, same seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scale_video.cli.train import PREDICTOR_FILE, main
from sparse_core.export import read_state_dict

SMALL = ["--config", "tiny", "--data.synthetic", "true", "--data.synthetic_samples", "64",
         "--data.synthetic_dim", "16", "--data.device", "cpu", "--model.hidden_dim", "32", "--model.num_heads", "4",
         "--train.batch_size", "16", "--train.log_every", "5", "--train.resume", "none"]


def _run(out: Path, steps: int, seed: int = 0) -> int:
    return main([*SMALL, "--train.out_dir", str(out), "--train.max_steps", str(steps), "--train.seed", str(seed)])


def test_tiny_run_lowers_the_loss(tmp_path: Path) -> None:
    assert _run(tmp_path, 60) == 0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["loss"] < rows[0]["loss"] - 0.5
    assert {"mcm_loss", "set_loss"} <= set(rows[0])
    assert (tmp_path / PREDICTOR_FILE).is_file() and (tmp_path / "config.yaml").is_file()


def test_same_seed_bitwise_equal_weights(tmp_path: Path) -> None:
    assert _run(tmp_path / "a", 4) == 0 and _run(tmp_path / "b", 4) == 0 and _run(tmp_path / "c", 4, seed=1) == 0
    a, b, c = (read_state_dict(tmp_path / x / PREDICTOR_FILE) for x in "abc")
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a)
    assert not all(a[k].equal(c[k]) for k in a)


@pytest.mark.parametrize("argv", [["--loss.bogus", "1"], ["--loss.mcm", "false", "--loss.set", "false"],
                                  ["--data.root", "/nonexistent/feats"], ["--loss.set_size", "9"],
                                  ["--optim.weight_decay", "1e-4"], ["--optimizer", "sgd"]])
def test_bad_config_exits_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--train.out_dir", str(tmp_path), *argv, "--data.synthetic",
                 "false" if "--data.root" in argv else "true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scale-train:")


def test_kill_and_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    """scale-train killed at step 3 and started again ends bitwise where an uninterrupted run ends."""
    from scale_video.task import SCALETask
    from sparse_core.testing import assert_kill_and_resume_is_exact

    argv = [*[a for a in SMALL if a not in ("--train.resume", "none")], "--train.max_steps", "5",
            "--train.ckpt_every", "2"]
    assert_kill_and_resume_is_exact(main, argv, PREDICTOR_FILE, tmp_path, SCALETask, 3)
