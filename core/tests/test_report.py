"""Markdown tables and the mean ± std summary over seeds."""

from __future__ import annotations

import statistics

import pytest

from sparse_core.report import format_cell, markdown_table, mean_std, seed_mean, seed_summary


def test_markdown_table_formats_and_missing_values() -> None:
    rows = [{"name": "a", "x": 1.23456, "n": 3}, {"name": "b", "x": float("nan")}]
    assert markdown_table(rows, ["name", "x", "n"]).splitlines() == [
        "| name | x | n |",
        "|---|---|---|",
        "| a | 1.23 | 3 |",
        "| b | - | - |",
    ]


def test_markdown_table_headers_and_per_column_formats() -> None:
    rows = [{"k": 0.15, "ms": 12.345, "mfu": 0.4321, "flag": None}]
    text = markdown_table(rows, {"k": "keep", "ms": "ms/step", "mfu": "MFU", "flag": "flag"},
                          fmt={"ms": ".1f", "mfu": ".1%"}, missing="n/a")
    assert text.splitlines()[0] == "| keep | ms/step | MFU | flag |"
    assert text.splitlines()[2] == "| 0.15 | 12.3 | 43.2% | n/a |"
    assert format_cell(float("inf")) == "-" and format_cell(2.0, ".4g") == "2" and format_cell("x") == "x"


def test_mean_std_is_the_sample_statistics() -> None:
    vals = [1.0, 2.0, 4.0]
    m, s = statistics.fmean(vals), statistics.stdev(vals)
    assert mean_std(vals) == f"{m:.2f} ± {s:.2f}"
    assert mean_std([3.0]) == "3.00" and mean_std([]) == "-"
    assert mean_std([1.0, float("nan"), 2.0, 4.0]) == mean_std(vals) and mean_std([float("nan")]) == "-"


def test_seed_summary_merges_rows_by_key() -> None:
    seed0 = [{"method": "dense", "knn": 10.0, "note": "x", "steps": 5},
             {"method": "sparse", "knn": 20.0, "note": "y", "steps": 5}]
    seed1 = [{"method": "sparse", "knn": 24.0, "note": "y", "steps": 5},
             {"method": "dense", "knn": 12.0, "note": "x", "steps": 5}]
    merged = seed_summary([seed0, seed1], key=["method"], fmt=".1f")
    assert [r["method"] for r in merged] == ["dense", "sparse"]
    assert merged[0]["knn"] == mean_std([10.0, 12.0], ".1f") and merged[1]["knn"] == mean_std([20.0, 24.0], ".1f")
    assert merged[0]["note"] == "x" and merged[0]["seeds"] == 2
    assert merged[1]["steps"] == 5  # equal in every seed: kept as it is
    nan = float("nan")
    merged = seed_summary([[{"m": "dense", "md_acc": nan}], [{"m": "dense", "md_acc": nan}]], key=["m"])
    assert markdown_table(merged, ["m", "md_acc"]).splitlines()[-1] == "| dense | - |"
    merged = seed_summary([[{"m": "a", "auroc": 0.812, "knn": 73.0}], [{"m": "a", "auroc": 0.822, "knn": 74.0}]],
                          key=["m"], fmt={"auroc": ".3f"})
    assert merged[0]["auroc"] == mean_std([0.812, 0.822], ".3f") == "0.817 ± 0.007"
    assert merged[0]["knn"] == mean_std([73.0, 74.0], ".2f")  # a column not named: ".2f"


def test_seed_mean_averages_the_matching_rows_of_every_seed() -> None:
    seed0 = [{"method": "dense", "budget": "steps", "knn": 10.0}, {"method": "sparse", "budget": "steps", "knn": 20.0},
             {"method": "sparse", "budget": "time", "knn": 30.0}, {"method": "sparse", "budget": "time"}]
    seed1 = [{"method": "sparse", "budget": "steps", "knn": 23.0}, {"method": "dense", "budget": "steps", "knn": 14.0}]
    assert seed_mean([seed0, seed1], "knn", method="dense") == (10.0 + 14.0) / 2
    assert seed_mean([seed0, seed1], "knn", method="sparse") == (20.0 + 30.0 + 23.0) / 3  # the row without knn: skipped
    assert seed_mean([seed0, seed1], "knn", method="sparse", budget="steps") == (20.0 + 23.0) / 2
    assert seed_mean([seed0], "knn") == (10.0 + 20.0 + 30.0) / 3
    with pytest.raises(ValueError, match="byol"):
        seed_mean([seed0, seed1], "knn", method="byol")
