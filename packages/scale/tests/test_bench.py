"""The SCALE bench's ratio to the backbone comes from interleaved rounds (a scripted clock; no timed test)."""

from __future__ import annotations

import statistics

import pytest
import torch

from scale_video import bench


def test_ratio_is_computed_within_each_round_then_the_median() -> None:
    # (backbone s, SCALE s) per round; a neighbour slows round 2 whole and SCALE alone in round 4
    rounds = [(2.0, 0.1), (2.0, 0.1), (6.0, 0.3), (2.0, 0.5), (2.0, 0.1)]
    values = iter(v for bb, sc in rounds for t in (bb, sc) for v in (0.0, t))
    res = bench.compare(8, 2, torch.device("cpu"), pairs=1, quick=True, dim=16, clock=lambda: next(values))
    per_round = [(8 / sc) / (2 / bb) for bb, sc in rounds]
    assert per_round[0] == pytest.approx(80.0) and per_round[2] == pytest.approx(80.0)
    assert res["ratio_vs_backbone_clips"] == pytest.approx(statistics.median(per_round)) == pytest.approx(80.0)
    assert res["timing"]["pairs"] == 5 and res["timing"]["times_s"]["scale"] == [sc for _, sc in rounds]
    assert res["scale"]["step_s"] == 0.1 and res["backbone"]["clips_per_s"] == 1.0
    assert res["scale"]["peak_mib"] > 0  # process peak RSS on a CPU
    assert "median of 5 interleaved rounds (backbone, scale)" in res["timing_note"]
