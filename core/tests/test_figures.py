"""The demo figure: loss curves from a metrics.jsonl beside grouped bars."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparse_core.figures import learning_figure, seed_band, seed_bars, seed_stats, study_figure
from sparse_core.report import mean_std


def test_learning_figure_writes_a_png_and_skips_absent_keys(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps({"step": s, "loss": 1.0 / (s + 1)}) for s in range(5)) + "\n")
    out = learning_figure(tmp_path / "fig.png", log, ("loss", "never_logged"), "loss",
                          {"random init": [20.0, 25.0], "trained": [40.0, 45.0]}, ["k-NN", "linear"], 12.5, "probes")
    assert out == tmp_path / "fig.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] > 100


def test_seed_band_averages_the_x_values_every_seed_has() -> None:
    runs = [[(0, 10.0), (100, 20.0), (200, 30.0)], [(0, 12.0), (100, 26.0)], [(0, 14.0), (100, 23.0), (300, 1.0)]]
    xs, mean, std = seed_band(runs)
    assert xs == [0, 100]
    np.testing.assert_allclose(mean, [12.0, np.mean([20.0, 26.0, 23.0])])
    np.testing.assert_allclose(std, [np.std([10.0, 12.0, 14.0], ddof=1), np.std([20.0, 26.0, 23.0], ddof=1)])
    assert mean_std([20.0, 26.0, 23.0]) == f"{mean[1]:.2f} ± {std[1]:.2f}"  # the tables' ± is the band's
    assert seed_band([])[0] == []


def test_study_figure_writes_a_png(tmp_path: Path) -> None:
    out = study_figure(tmp_path / "study.png", {"a": [[(0, 1.0), (1, 2.0)], [(0, 1.5), (1, 2.5)]]},
                       {"a": [2.0, 2.5], "random": [1.0, 1.2]}, {"chance": 10.0}, "images seen", "k-NN (%)",
                       "curves", "final")
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_stats_is_mean_and_sample_std_and_zero_std_for_one_seed() -> None:
    mean, std = seed_stats(np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]]))
    np.testing.assert_allclose(mean, [3.0, 12.0])
    np.testing.assert_allclose(std, [2.0, np.std([10.0, 10.0, 16.0], ddof=1)])
    mean, std = seed_stats(np.array([[4.0, 7.0]]))
    np.testing.assert_allclose(mean, [4.0, 7.0])
    np.testing.assert_allclose(std, [0.0, 0.0])


def test_seed_bars_writes_a_png_of_every_row(tmp_path: Path) -> None:
    per_seed = [[{"m": "a", "knn": 10.0, "lin": 20.0}, {"m": "b", "knn": 30.0, "lin": 40.0}],
                [{"m": "a", "knn": 12.0, "lin": 22.0}, {"m": "b", "knn": 32.0, "lin": 44.0}]]
    out = seed_bars(tmp_path / "bars.png", per_seed, ["a", "b"], {"knn": "k-NN", "lin": "linear"}, "t",
                    references={"chance": 12.5})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError):  # a metric that a row lacks is an error, not a silent gap
        seed_bars(tmp_path / "bad.png", per_seed, ["a", "b"], {"absent": "x"}, "t")
