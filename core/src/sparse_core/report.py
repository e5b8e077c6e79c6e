"""Markdown reports: one table writer and the mean ± std summary of runs over seeds.

Every table a package prints or writes (benchmarks, demo and study summaries, evaluation results) goes
through :func:`markdown_table`, so number formatting and missing values look the same everywhere.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_cell", "markdown_table", "mean_std", "seed_mean", "seed_summary"]


def format_cell(value: Any, fmt: str = ".2f", missing: str = "-") -> str:
    """One table cell: floats with ``fmt``, NaN / inf / None as ``missing``, anything else as ``str``.

    Args:
        value: the cell value.
        fmt: format spec for floats (``".2f"``, ``".4g"``...).
        missing: text for None and non-finite floats.

    Returns:
        the cell text.
    """
    if value is None:
        return missing
    if isinstance(value, float):
        return missing if not math.isfinite(value) else format(value, fmt)
    return str(value)


def _spec(fmt: str | Mapping[str, str], key: str) -> str:
    """The format spec of column ``key``: ``fmt`` itself, or its entry for ``key`` (``".2f"`` if none)."""
    return fmt.get(key, ".2f") if isinstance(fmt, Mapping) else fmt


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | Mapping[str, str],
    fmt: str | Mapping[str, str] = ".2f",
    missing: str = "-",
) -> str:
    """A Markdown table with one line per row.

    Args:
        rows: one mapping per table row, keyed by column name.
        columns: the keys to show, in order; a mapping ``{key: header}`` gives headers that differ from keys.
        fmt: float format spec, for all columns or per key (keys not named use ``".2f"``).
        missing: text for keys a row lacks, None and non-finite floats.

    Returns:
        the table (header line, separator line, one line per row), without a trailing newline.
    """
    keys = list(columns)
    headers = [columns[k] for k in keys] if isinstance(columns, Mapping) else keys

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(format_cell(r.get(k), _spec(fmt, k), missing) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def mean_std(values: Sequence[float], fmt: str = ".2f") -> str:
    """``"m ± s"`` (sample standard deviation) of the finite ``values``; one value gives just ``"m"``.

    Args:
        values: one number per seed.
        fmt: format spec of both numbers.

    Returns:
        the formatted summary.
    """
    vals = [float(v) for v in values if math.isfinite(float(v))]  # NaN / inf (no value) are left out
    if not vals:
        return "-"
    m = statistics.fmean(vals)
    if len(vals) == 1:
        return format(m, fmt)
    return f"{format(m, fmt)} ± {format(statistics.stdev(vals), fmt)}"


def seed_summary(
    runs: Sequence[Sequence[Mapping[str, Any]]], key: Sequence[str], fmt: str | Mapping[str, str] = ".2f"
) -> list[dict[str, Any]]:
    """Merge the table rows of several seeds: numbers become ``"mean ± std"`` strings.

    Args:
        runs: for each seed, its rows (the same rows, identified by ``key``, in every seed).
        key: the columns that identify a row (copied, not averaged), e.g. ``["method", "budget"]``.
        fmt: format spec of the means and standard deviations, for all columns or per column (columns not
            named use ``".2f"``, as in :func:`markdown_table`).

    Returns:
        one row per row of the first seed, with ``"mean ± std"`` for every numeric column that differs
        between seeds (a column equal in all of them keeps its value) and ``"seeds"``, the number of seeds.
    """
    if not runs:
        return []
    merged = []
    for row in runs[0]:
        ident = tuple(row.get(k) for k in key)
        same = [r for rows in runs for r in rows if tuple(r.get(k) for k in key) == ident]
        out: dict[str, Any] = {k: row.get(k) for k in key}
        for col, value in row.items():
            if col in out:
                continue
            nums = [r[col] for r in same if isinstance(r.get(col), (int, float)) and not isinstance(r[col], bool)
                    and math.isfinite(r[col])]  # NaN (a metric a row does not have) stays NaN, shown as '-'
            if isinstance(value, (int, float)) and not isinstance(value, bool) and nums:
                out[col] = value if all(v == nums[0] for v in nums) else mean_std(nums, _spec(fmt, col))
            else:
                out[col] = value
        out["seeds"] = len(same)
        merged.append(out)
    return merged


def seed_mean(runs: Sequence[Sequence[Mapping[str, Any]]], column: str, /, **match: Any) -> float:
    """Mean of one column over the rows of every seed that match, e.g. a study's headline number.

    Args:
        runs: for each seed, its rows (as for :func:`seed_summary`).
        column: the column averaged; rows without it are passed over.
        **match: the row's identifying values, e.g. ``method="+DILEMMA"``.

    Returns:
        the plain mean of ``column`` over the matching rows of all seeds.

    Raises:
        ValueError: no row matches and has ``column``.
    """
    vals = [r[column] for rows in runs for r in rows
            if column in r and all(r.get(k) == v for k, v in match.items())]
    if not vals:
        raise ValueError(f"no row with {column!r} matches {match}")
    return float(sum(vals) / len(vals))
