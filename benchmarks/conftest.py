"""Benchmarks run only when asked for by marker (``-m benchmark``): collected any other way, they are skipped."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "benchmark" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a benchmark: run with -m benchmark (nox -s bench_agreement)")
    for item in items:
        if "benchmark" in item.keywords:
            item.add_marker(skip)
