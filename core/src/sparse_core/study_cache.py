"""One run's numbers cached beside it, so a study can be resumed or split over processes.

A study trains one run per (seed, method). :func:`cached_row` stores a run's row with the configuration that
produced it in ``<run dir>/study_row.json`` (written atomically) and returns the stored row, without training,
when it is asked again with the same configuration. Seeds can then run as separate processes into the same
output folder, and a last call with every seed only reads them back to write the merged tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CACHE_NAME", "cached_row"]

CACHE_NAME = "study_row.json"
"""File name of a run's cached row inside its folder."""


def cached_row(run_dir: str | Path, key: Any, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The row stored in ``run_dir`` for ``key``, or ``compute()`` stored there first.

    Args:
        run_dir: the run's folder (created when missing).
        key: what identifies the run (JSON-serialisable after ``str`` of the rest, e.g. a config as a dict);
            a stored row with another key is recomputed and replaced.
        compute: trains and scores the run; returns a JSON-serialisable row.

    Returns:
        the row.
    """
    path = Path(run_dir) / CACHE_NAME
    want = json.loads(json.dumps(key, default=str))
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except json.JSONDecodeError:
            saved = {}
        if saved.get("config") == want:
            return saved["row"]
    row = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"config": want, "row": row}))
    tmp.replace(path)
    return row
