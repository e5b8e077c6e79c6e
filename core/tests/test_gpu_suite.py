"""The GPU suite's runner: isolated rows, per-row flushing, time budgets, device peaks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sparse_core import gpu_suite
from sparse_core.bench import bench_model, peak_bf16_flops
from sparse_core.gpu_suite import Row, RowContext, RowTimeout, run_suite, time_limit


def _fake_rows(out: Path) -> tuple[Row, ...]:
    def good(ctx: RowContext) -> dict[str, Any]:
        return {"value": 3, "headline": {"x": 1.5}}

    def bad(ctx: RowContext) -> dict[str, Any]:
        raise RuntimeError("boom")

    def reads_previous(ctx: RowContext) -> dict[str, Any]:
        saved = json.loads((out / "gpu_suite.json").read_text())
        return {"seen": [r["name"] for r in saved["rows"]], "headline": {}}

    return (Row("good", 10, good), Row("bad", 10, bad), Row("reads", 10, reads_previous))


def test_failing_row_is_reported_and_the_others_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_suite, "discover_rows", lambda: _fake_rows(tmp_path))
    results = run_suite(tmp_path, dry_run=True)
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[0]["headline"] == {"x": 1.5} and results[0]["result"] == {"value": 3}
    assert results[1]["error"].startswith("RuntimeError: boom")
    # the JSON was rewritten after each row: the third row read the first two from disk
    assert results[2]["result"]["seen"] == ["good", "bad"]
    saved = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert [r["name"] for r in saved["rows"]] == ["good", "bad", "reads"]
    md = (tmp_path / "gpu_suite.md").read_text()
    assert "FAILED" in md and "x 1.5" in md and "DRY RUN" in md


def test_main_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_suite, "discover_rows", lambda: _fake_rows(tmp_path))
    assert gpu_suite.main(["--dry-run", "--out", str(tmp_path), "--rows", "good"]) == 0
    assert gpu_suite.main(["--dry-run", "--out", str(tmp_path), "--rows", "good", "bad"]) == 1
    assert gpu_suite.main(["--dry-run", "--out", str(tmp_path), "--rows", "nope"]) == 2


def test_time_limit_interrupts_a_row() -> None:
    t0 = time.perf_counter()
    with pytest.raises(RowTimeout), time_limit(0.2):
        while True:
            time.sleep(0.01)
    assert time.perf_counter() - t0 < 2.0


def test_spent_total_budget_skips_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_suite, "discover_rows", lambda: _fake_rows(tmp_path)[:1])
    monkeypatch.setattr(gpu_suite.torch.cuda, "is_available", lambda: False)
    (res,) = run_suite(tmp_path, dry_run=False, total_budget_s=0.0)
    assert not res["ok"] and "total budget" in res["error"]


@pytest.mark.parametrize(("name", "peak"), [("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H200", 989e12),
                                            ("NVIDIA A100-SXM4-80GB", 312e12), ("NVIDIA H100 PCIe", 756e12),
                                            ("Tesla T4", None)])
def test_peak_by_device_name(name: str, peak: float | None) -> None:
    assert peak_bf16_flops(name) == peak


def test_bench_model_rows_are_consistent() -> None:
    import torch

    rows = bench_model("tiny", (1.0, 0.5), 2, torch.device("cpu"), img_size=32, depth=1, warmup=0, repeats=5)
    dense, half = rows
    assert dense["efficiency"] == pytest.approx(1.0) and half["ideal"] == pytest.approx(2.0)
    assert dense["images_per_s"] == pytest.approx(2 / (dense["ms_per_step"] / 1e3))
    assert half["efficiency"] == pytest.approx(half["speedup"] / 2) and dense["speedup"] == 1.0
    assert dense["pairs"] == half["pairs"] == 5 and dense["threads"] == half["threads"] >= 1
    assert half["gflop_per_step"] < dense["gflop_per_step"] and dense["mfu"] is None  # no peak on a CPU
