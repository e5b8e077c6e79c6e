"""``sfclip-train``: the tiny run trains, refuses unknown keys, and its seed decides the weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sfclip_test_utils import FAST_ARGV

from sfclip.cli.train import WEIGHTS, main
from sparse_core.testing import assert_cli_refuses, assert_rejects_unknown_key, assert_seed_decides_weights


def test_tiny_config_trains_and_lowers_the_loss(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["--config", "tiny", "--train.max_steps", "20", "--train.out_dir", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    assert {"clip", "vd", "td"} <= rows[-1].keys()
    weights = load_file(out / WEIGHTS)
    assert weights and not [k for k in weights if "teacher" in k or "distill" in k]


def test_unknown_key_is_refused() -> None:
    assert_rejects_unknown_key(main)


def test_same_seed_same_weights(tmp_path: Path) -> None:
    assert_seed_decides_weights(main, FAST_ARGV, WEIGHTS, tmp_path, seed=0, other_seed=1)


def test_folder_pairs_train_and_count_skipped(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "pairs"
    root.mkdir()
    for i, (name, rgb) in enumerate([("red", (255, 0, 0)), ("green", (0, 255, 0))] * 4):
        Image.new("RGB", (40, 40), rgb).save(root / f"{i}.png")
        (root / f"{i}.txt").write_text(f"a {name} square")
    (root / "bad.png").write_bytes(b"\x89PNG broken")
    (root / "bad.txt").write_text("a broken image")
    (root / "blank.png").write_bytes((root / "0.png").read_bytes())
    (root / "blank.txt").write_text("")
    out = tmp_path / "run"
    argv = [*FAST_ARGV, "--data.source", "folder", "--data.root", str(root), "--train.batch_size", "10",
            "--train.max_steps", "2", "--train.out_dir", str(out)]
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped_total"] == 2


@pytest.mark.parametrize(("argv", "key"), [
    (["--teacher.vision", "sam_h"], "teacher.vision"),
    (["--teacher.vision", "efficientnet_lite0", "efficientnet_lite0"], "teacher.vision"),
    (["--distill.text_ratio", "1.5"], "distill.text_ratio"),
    (["--vision.img_size", "30"], "vision.img_size"),
    (["--data.source", "webdataset"], "data.source"),
])
def test_bad_values_are_refused_before_training(argv: list[str], key: str, capsys: pytest.CaptureFixture) -> None:
    assert_cli_refuses(main, ["--config", "tiny", *argv], key, capsys)
