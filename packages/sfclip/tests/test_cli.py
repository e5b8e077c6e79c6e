"""``sfclip-train``: the tiny run trains, refuses unknown keys, and its seed decides the weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sfclip_test_utils import FAST_ARGV, write_pair_folder

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
    root = write_pair_folder(tmp_path / "pairs", 8, blank_caption=True)
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
    (["--data.source", "webdataset"], "data.source"),  # without data.shards
    (["--data.source", "lmdb"], "data.source"),
    (["--data.source", "webdataset", "--data.shards", "/nonexistent/{0..3}.tar"], "data.shards"),
    (["--teacher.text", "xglm"], "teacher.text"),
    (["--precompute.dtype", "int8"], "precompute.dtype"),
    (["--distill.precomputed", "/nonexistent/store"], "distill.precomputed"),
])
def test_bad_values_are_refused_before_training(argv: list[str], key: str, capsys: pytest.CaptureFixture) -> None:
    assert_cli_refuses(main, ["--config", "tiny", *argv], key, capsys)


@pytest.mark.parametrize(("argv", "key"), [
    (["--precompute.dtype", "bfloat16"], "precompute.dtype"),
    (["--precompute.shard_size", "0"], "precompute.shard_size"),
    (["--distill.image_ratio", "0", "--distill.text_ratio", "0", "--distill.precomputed", "x"], "distill"),
    (["--teacher.text", "bert_tiny_random"], "out"),  # no output folder given
    (["--out", "a", "--distill.precomputed", "b"], "out"),  # two different folders
])
def test_precompute_refuses_bad_values(argv: list[str], key: str, capsys: pytest.CaptureFixture) -> None:
    from sfclip.cli.precompute import main as precompute_main

    assert_cli_refuses(precompute_main, ["--config", "tiny", *argv], key, capsys)


def test_precompute_help_leads_with_its_own_keys(capsys: pytest.CaptureFixture) -> None:
    """--out and --precompute.* come first in the usage line and in the groups, before the training keys."""
    from sfclip.cli.precompute import main as precompute_main

    with pytest.raises(SystemExit) as done:
        precompute_main(["--help"])
    assert done.value.code == 0
    page = capsys.readouterr().out
    usage = page[:page.index("\n\n")]
    assert usage.index("--out") < usage.index("--precompute.batch_size") < usage.index("--train.out_dir")
    groups = [line for line in page.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert groups[1].startswith("``sfclip-precompute``: the frozen teachers'"), groups[:3]  # --out's group
    assert groups[2].startswith("Settings of ``sfclip-precompute``"), groups[:3]
    assert page.index("--out OUT") < page.index("--train.out_dir")


def test_thesis_scale_configs_parse() -> None:
    from sfclip.config import CONFIG_DIR, SFCLIPConfig
    from sparse_core.config import parse_config

    cc12m = parse_config(SFCLIPConfig, ["--config", "cc12m"], config_dir=CONFIG_DIR)
    assert (cc12m.train.epochs, cc12m.train.batch_size, cc12m.train.precision) == (35, 8192, "bf16")
    assert cc12m.train.batch_size % 8 == 0  # 1024 per GPU on 8 GPUs
    assert cc12m.data.source == "webdataset" and cc12m.data.shards == "/data/cc12m/{00000..01242}.tar"
    assert cc12m.teacher.vision == ["dinov2", "sam"] and cc12m.teacher.text_path == "facebook/xglm-1.7B"
    assert (cc12m.distill.image_ratio * 8192, cc12m.distill.text_ratio * 8192) == (1024, 512)
    assert len(cc12m.data.rewrites) == 4 and cc12m.distill.reduction == "sum"  # LaCLIP's four rewrite files
    assert (cc12m.vision.patch_size, cc12m.vision.embed_dim, cc12m.vision.depth) == (16, 768, 12)
    yfcc = parse_config(SFCLIPConfig, ["--config", "yfcc15m"], config_dir=CONFIG_DIR)
    assert yfcc.teacher.vision == ["dinov2", "sam"] and yfcc.train.epochs == 25
    assert "accelerate launch --num_processes 8 -m sfclip.cli.train --config cc12m" in (
        CONFIG_DIR / "cc12m.yaml").read_text()
