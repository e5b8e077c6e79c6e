"""``sfclip-eval``: evaluates a trained run on procedural pairs and on folders, exports, refuses bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from sfclip_test_utils import FAST_ARGV

from sfclip.cli.eval import main
from sfclip.cli.train import main as train_main
from sparse_core.testing import assert_cli_refuses, assert_rejects_unknown_key

SMALL = ["--shapes.num_pairs", "40", "--shapes.probe_pairs", "40", "--probe_epochs", "3", "--batch_size", "16"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sfclip_eval") / "run"
    assert train_main([*FAST_ARGV, "--train.max_steps", "2", "--train.out_dir", str(out)]) == 0
    return out


def test_every_evaluation_runs_on_held_out_pairs_and_exports(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    assert main(["--run", str(run_dir), *SMALL, "--out", str(out), "--languages", "[en,de]",
                 "--export_open_clip", str(tmp_path / "oc")]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    for key in ("shapes_zeroshot_top1", "shapes_zeroshot_top5", "shapes_retrieval_i2t_R@10",
                "shapes_retrieval_t2i_R@1", "shapes_multilingual_de_mean_R", "shapes_linear_top1", "shapes_seg_mIoU"):
        assert 0.0 <= metrics[key] <= 100.0, key
    assert metrics["shapes_zeroshot_top5"] >= metrics["shapes_zeroshot_top1"]
    assert metrics["shapes_multilingual_en_mean_R"] == pytest.approx(metrics["shapes_retrieval_mean_R"])
    assert (tmp_path / "oc" / "open_clip_config.json").is_file()


def test_folder_evaluations(run_dir: Path, tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    pairs = tmp_path / "pairs"
    multi = tmp_path / "multi"
    for i, (name, rgb) in enumerate([("red", (230, 25, 25)), ("green", (25, 200, 50))] * 3):
        (classes / f"{name}_square").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), rgb).save(classes / f"{name}_square" / f"{i}.png")
        for root in (pairs, multi):
            root.mkdir(exist_ok=True)
            Image.new("RGB", (40, 40), rgb).save(root / f"{i}.png")
        (pairs / f"{i}.txt").write_text(f"a {name} square number {i}")
        (multi / f"{i}.en.txt").write_text(f"a {name} square number {i}")
        (multi / f"{i}.de.txt").write_text(f"ein Quadrat Nummer {i}")
    (multi / "orphan.png").write_bytes((multi / "0.png").read_bytes())  # no caption: skipped
    out = tmp_path / "eval.json"
    argv = ["--run", str(run_dir), *SMALL, "--out", str(out), "--tasks", "[zeroshot,retrieval,multilingual,linear]",
            "--classification_root", str(classes), "--probe_train_root", str(classes), "--pairs_root", str(pairs),
            "--multilingual_root", str(multi), "--languages", "[en,de]"]
    assert main(argv) == 0
    m = json.loads(out.read_text())["metrics"]
    assert {"zeroshot_top1", "linear_top1", "retrieval_i2t_R@1", "multilingual_de_t2i_R@10"} <= m.keys()
    assert not [k for k in m if k.startswith("shapes_")]
    assert m["retrieval_i2t_R@10"] == 100.0  # 6 pairs: every caption is within the top 10
    assert m["multilingual_en_mean_R"] == pytest.approx(m["retrieval_mean_R"])


def test_unknown_key_is_refused() -> None:
    assert_rejects_unknown_key(main)


@pytest.mark.parametrize(("argv", "key"), [
    (["--tasks", "[zeroshot,captioning]"], "tasks"),
    (["--templates", "[a photo]"], "templates"),
    (["--languages", "[en,xx]"], "languages"),
    (["--shapes.num_pairs", "0"], "shapes.num_pairs"),
    (["--device", "tpu"], "device"),
])
def test_bad_values_are_refused(argv: list[str], key: str, capsys: pytest.CaptureFixture) -> None:
    assert_cli_refuses(main, ["--run", ".", *argv], key, capsys)


def test_missing_run_and_folders_are_refused(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert_cli_refuses(main, ["--run", str(tmp_path / "nothing")], "run", capsys)
    assert_cli_refuses(main, ["--run", str(tmp_path)], "run", capsys)  # no config.yaml in it
    assert_cli_refuses(main, ["--run", str(run_dir), "--pairs_root", str(tmp_path / "none")], "pairs_root", capsys)
