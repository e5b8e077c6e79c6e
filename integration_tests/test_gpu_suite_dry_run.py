"""`python -m sparse_core.gpu_suite --gpu --dry-run`: every GPU row runs at toy size on the CPU."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from sparse_core import gpu_suite


@pytest.mark.slow
def test_every_row_runs_dry(tmp_path: Path) -> None:
    assert gpu_suite.main(["--gpu", "--dry-run", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "gpu_suite.json").read_text())
    rows = {r["name"]: r for r in saved["rows"]}
    assert set(rows) == {r.name for r in gpu_suite.ROWS} and all(r["ok"] for r in rows.values())
    assert saved["env"]["dry_run"] and (tmp_path / "gpu_suite.md").is_file()
    core = rows["core_vit_b_compiled"]["result"]["rows"]
    assert [r["keep"] for r in core] == [1.0, 0.35, 0.15, 0.05] and core[0]["efficiency"] == pytest.approx(1.0)
    dil = rows["dilemma_epoch_ratio"]["result"]
    per, times = dil["per_ratio"], dil["timing"]["times_s"]  # interleaved rounds: the ratio within each round
    mean_b = statistics.mean(v["batch"] for v in per.values())
    dense = [t / per["0"]["batch"] for t in times["0"]]
    expect = statistics.median((statistics.mean(times[k][i] for k in per) / mean_b) / dense[i]
                               for i in range(dil["timing"]["pairs"]))
    assert dil["epoch_time_ratio"] == pytest.approx(expect) and dil["timing"]["pairs"] >= 5
    vid = rows["vidrop_clips_per_s"]["result"]["rows"]
    assert [r["drop_rate"] for r in vid] == [0.0, 0.8, 0.85, 0.9, 0.95]
    for r in rows["river_predict16"]["result"]["rows"]:  # all-past over RIVER within each round, then the median
        t = r["timing"]["predict16"]["times_s"]
        assert r["predict16_ratio"] == pytest.approx(statistics.median(a / b for a, b in zip(t["allpast"], t["river"])))
    sanity = rows["dilemma_learning_sanity"]["headline"]
    assert 0.0 <= sanity["knn_before"] <= 100.0 and 0.0 <= sanity["knn_after"] <= 100.0
