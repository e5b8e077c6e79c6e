"""The study's reading of its numbers: thesis-table rows and SCALE's margins over the frozen base."""

from __future__ import annotations

import math
import statistics

import pytest

from scale_video.study import THESIS_ROWS, margins, thesis_rows


def _res(lin: float, slin: float, knn: float, sknn: float, low_lin: float, low_slin: float) -> dict:
    return {"linear": lin, "scale_linear": slin, "knn": knn, "scale_knn": sknn, "mlp": 1.0, "transformer": 2.0,
            "scale_ft": 3.0, "lowshot": {"fraction": 0.1, "linear": low_lin, "scale_linear": low_slin, "mlp": 4.0,
                                         "transformer": 5.0, "scale_ft": 6.0}}


def test_thesis_rows_follow_tables_4_4_and_4_7() -> None:
    rows = thesis_rows(_res(10, 12, 20, 25, 5, 7))
    assert [r["probe"] for r in rows] == [label for label, _ in THESIS_ROWS]
    by = {r["probe"]: r for r in rows}
    assert by["SCALE_k-NN"]["all"] == 25 and math.isnan(by["k-NN"]["lowshot"])  # Table 4.7 has no k-NN row
    assert by["SCALE_ft"]["lowshot"] == 6.0 and by["Linear"]["lowshot"] == 5


def test_margins_are_per_seed_differences_against_the_seed_spread() -> None:
    seeds = [_res(10, 14, 20, 21, 5, 6), _res(11, 15, 22, 21, 6, 6), _res(12, 17, 21, 23, 4, 9)]
    got = {g["key"]: g for g in margins(seeds)}
    lin = got["linear_all"]
    assert lin["mean"] == pytest.approx(statistics.fmean([4, 4, 5]))
    assert lin["std"] == pytest.approx(statistics.stdev([4, 4, 5]))
    assert lin["spread"] == pytest.approx(max(statistics.stdev([14, 15, 17]), statistics.stdev([10, 11, 12])))
    assert lin["clear"] is True  # +4.33 > 1.53
    knn = got["knn_all"]
    assert knn["mean"] == pytest.approx(2 / 3) and knn["clear"] is False  # +0.67 < std 1.15 of the SCALE k-NN
    assert "knn_lowshot" not in got and got["linear_lowshot"]["mean"] == pytest.approx(2.0)


@pytest.mark.parametrize(("argv", "key"), [(["--task", "nope"], "task"),
                                           (["--low_shot_fraction", "0"], "low_shot_fraction")])
def test_study_refuses_bad_knobs(argv: list[str], key: str, capsys: pytest.CaptureFixture[str]) -> None:
    from scale_video.study import main

    assert main([*argv, "--out", "unused"]) == 2
    assert key in capsys.readouterr().err
