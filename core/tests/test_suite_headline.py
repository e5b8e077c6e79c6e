"""The typed stage headline: margins, its one-line description, results.json round trip and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sparse_core.suite import Headline, StageResult, learned_lines, write_report


def _knn() -> Headline:
    return Headline(metric="k-NN top-1 (%)", trained=41.5, baselines={"random init": 24.0},
                    references={"raw pixels": 23.4}, clear_margin=15.0)


def test_margin_is_trained_minus_baseline_and_flips_when_lower_is_better() -> None:
    h = Headline(metric="m", trained=3.0, baselines={"a": 1.0, "b": 2.5})
    assert h.margin() == pytest.approx(2.0) and h.margin("b") == pytest.approx(0.5)
    loss = Headline(metric="loss", trained=0.2, baselines={"init": 1.0}, higher_is_better=False)
    assert loss.margin("init") == pytest.approx(0.8)
    with pytest.raises(KeyError):
        h.margin("missing")
    with pytest.raises(KeyError):
        Headline(metric="m", trained=1.0).margin()


def test_is_clear_needs_every_baseline_beaten_by_the_threshold() -> None:
    assert _knn().is_clear() is True
    assert Headline(metric="m", trained=30.0, baselines={"random init": 24.0}, clear_margin=15.0).is_clear() is False
    assert Headline(metric="m", trained=3.0, baselines={"a": 1.0, "b": 2.5}, clear_margin=1.0).is_clear() is False
    assert Headline(metric="m", trained=3.0, baselines={"a": 1.0}).is_clear() is None


def test_describe_is_one_line_with_trained_baseline_margin_verdict_and_references() -> None:
    line = _knn().describe()
    assert "\n" not in line
    assert line == ("k-NN top-1 (%) 41.5 trained vs random init 24 (+17.5) - a clear margin (>= 15); "
                    "references: raw pixels 23.4")
    weak = Headline(metric="PSNR (dB)", trained=20.0, baselines={"copy last frame": 19.5}, clear_margin=1.5)
    assert "(+0.5)" in weak.describe() and "NOT a clear margin" in weak.describe()


def test_results_json_round_trip_keeps_the_headline(tmp_path: Path) -> None:
    results = {"dilemma": StageResult(name="dilemma", time_s=3.0, headline=_knn(), metrics={"knn_trained": 41.5}),
               "bench": StageResult(name="bench", metrics={"speedup": 2.9})}
    write_report(results, tmp_path, "demo")
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["dilemma"]["headline"] == {"metric": "k-NN top-1 (%)", "trained": 41.5,
                                           "baselines": {"random init": 24.0}, "references": {"raw pixels": 23.4},
                                           "higher_is_better": True, "clear_margin": 15.0}
    assert data["bench"]["headline"] is None and data["bench"]["metrics"] == {"speedup": 2.9}
    back = {n: StageResult.from_dict(d) for n, d in data.items()}
    assert back == results


def test_report_has_one_line_per_method_with_a_headline(tmp_path: Path) -> None:
    river = Headline(metric="PSNR (dB)", trained=22.0, baselines={"copy last frame": 19.0}, clear_margin=1.5)
    results = {"dilemma": StageResult(name="dilemma", headline=_knn(), metrics={"knn_trained": 41.5}),
               "river": StageResult(name="river", headline=river),
               "broken": StageResult(name="broken", ok=False, error="RuntimeError('boom')")}
    lines = learned_lines(results)
    assert lines == [f"- **dilemma**: {_knn().describe()}", f"- **river**: {river.describe()}"]
    text = write_report(results, tmp_path, "demo").read_text()
    assert all(line in text.splitlines() for line in lines)
    assert "knn_trained 41.5" in text  # the flat numbers stay in the table


def test_stage_result_of_a_dict_reads_headline_and_metrics() -> None:
    r = StageResult.of("x", {"summary": "s", "headline": {"metric": "m", "trained": 2, "baselines": {"b": 1}},
                             "metrics": {"a": 1, "skip": None}, "extra": 5}, 1.26)
    assert r.headline == Headline(metric="m", trained=2.0, baselines={"b": 1.0})
    assert r.metrics == {"a": 1.0} and r.details == {"extra": 5} and r.time_s == 1.3
    assert StageResult.of("y", {"summary": "s"}, 0.0).headline is None
