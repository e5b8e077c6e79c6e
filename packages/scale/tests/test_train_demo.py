"""The demo stage end to end at smoke size: extraction, a few SCALE steps, probes, headline."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from scale_video.demo import run


@pytest.mark.slow
def test_demo_stage_smoke(tmp_path: Path) -> None:
    result = run(tmp_path, steps=4, extract_overrides=["--data.num_videos", "16", "--data.val_num_videos", "16"],
                 train_overrides=["--train.batch_size", "8"])
    assert set(result.metrics) == {"linear_top1", "linear_top1_frozen_base", "knn_top1", "knn_top1_frozen_base"}
    assert all(0.0 <= v <= 100.0 and math.isfinite(v) for v in result.metrics.values())
    spec = result.headline
    assert spec is not None
    assert spec.trained == result.metrics["linear_top1"] and spec.higher_is_better is True
    assert spec.baselines["frozen base"] == result.metrics["linear_top1_frozen_base"]
    assert (tmp_path / "scale_results.md").is_file() and (tmp_path / "scale_results.png").is_file()
    assert (tmp_path / "train" / "scale_predictor.safetensors").is_file()
