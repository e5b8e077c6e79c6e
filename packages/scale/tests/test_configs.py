"""The shipped configs: extract -> train -> eval chain through their default paths, and thesis sec. 4.3.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scale_video.config import CONFIG_DIR, ExtractConfig
from scale_video.eval_config import EVAL_CONFIG_DIR, ScaleEvalConfig
from scale_video.train_config import TRAIN_CONFIG_DIR, ScaleTrainConfig
from sparse_core.config import parse_config

DATASETS = ["tiny", "k400", "ssv2", "ucf101", "hmdb51", "lvu"]
THESIS_SCALE = [d for d in DATASETS if d != "tiny"]


def _configs(name: str) -> tuple[ExtractConfig, ScaleTrainConfig, ScaleEvalConfig]:
    return (parse_config(ExtractConfig, ["--config", name], config_dir=CONFIG_DIR / "extract"),
            parse_config(ScaleTrainConfig, ["--config", name], config_dir=TRAIN_CONFIG_DIR),
            parse_config(ScaleEvalConfig, ["--config", name], config_dir=EVAL_CONFIG_DIR))


def test_every_dataset_ships_all_three_configs() -> None:
    for sub in ("extract", "train", "eval"):
        assert sorted(p.stem for p in (CONFIG_DIR / sub).glob("*.yaml")) == sorted(DATASETS), sub


@pytest.mark.parametrize("name", DATASETS)
def test_shipped_configs_chain(name: str) -> None:
    """What scale-extract --config X writes is what scale-train / scale-eval --config X read."""
    ext, train, ev = _configs(name)
    out = Path(ext.out_dir)
    assert {"train", "train_eval", "val_eval"} <= set(ext.stores)
    assert Path(train.data.root) == out / "train"
    assert Path(ev.train_root) == out / "train_eval" and Path(ev.test_root) == out / "val_eval"
    assert Path(ev.run) == Path(train.train.out_dir)
    assert train.loss.set_size * 2 <= ext.sampling.num_clips


@pytest.mark.parametrize("name", THESIS_SCALE)
def test_thesis_scale_configs_follow_sec_4_3_1(name: str) -> None:
    """500 epochs, batch 512, all 16 clips in two sets of 8, Adam (no decay) + cosine, 3-layer heads."""
    ext, train, ev = _configs(name)
    assert train.train.epochs == 500 and train.train.max_steps is None and train.train.batch_size == 512
    assert train.optimizer == "adam" and train.optim.weight_decay == 0.0 and train.optim.min_lr == 0.0
    assert train.model.hidden_dim == 256 and train.model.depth == 2 and train.model.head_layers == 3
    assert ext.sampling.num_clips == 16 and train.loss.set_size == 8 and ext.sampling.num_frames == 16
    assert ev.probe.knn_k == 20 and ev.probe.low_shot_fraction == 0.1 and "lowshot" in ev.probe.probes
    text = (TRAIN_CONFIG_DIR / f"{name}.yaml").read_text()
    assert "sec. 4.4" not in text and "4.3.3" in text


def test_tiny_chain_runs_with_no_path_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scale-extract, scale-train, scale-eval --config tiny in an empty folder, only sizes overridden."""
    from scale_video.cli.evaluate import main as eval_main
    from scale_video.cli.extract import main as extract_main
    from scale_video.cli.train import PREDICTOR_FILE
    from scale_video.cli.train import main as train_main

    monkeypatch.chdir(tmp_path)
    assert extract_main(["--config", "tiny", "--data.num_videos", "8", "--data.val_num_videos", "8",
                         "--data.num_frames", "12", "--sampling.num_clips", "8"]) == 0
    assert train_main(["--config", "tiny", "--train.max_steps", "2", "--train.batch_size", "4",
                       "--model.hidden_dim", "32", "--data.device", "cpu"]) == 0
    assert (tmp_path / "runs/scale-tiny" / PREDICTOR_FILE).is_file()
    assert eval_main(["--config", "tiny", "--device", "cpu", "--probe.probes", "[linear,scale_linear,knn,scale_knn]",
                      "--probe.knn_k", "3", "--probe.linear_epochs", "2", "--probe.linear_lrs", "[0.1]"]) == 0
    res = json.loads((tmp_path / "runs/scale-tiny/eval/results.json").read_text())
    assert set(res) == {"linear", "scale_linear", "knn", "scale_knn"}
    assert sorted(p.name for p in (tmp_path / "features/scale-tiny").iterdir()
                  if p.is_dir()) == ["train", "train_eval", "val_eval"]
