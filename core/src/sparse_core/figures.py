"""Figures of the demo stages and the studies.

* :func:`learning_figure`: a run's training loss next to a bar chart of trained vs baseline probe accuracy.
* :func:`seed_bars`: a study's rows as grouped bars, one per metric, mean ± std over seeds.
* :func:`study_figure`: a study's learning curves (mean ± std band over seeds) next to its final numbers
  (bars of the mean with the std as error bars), with reference lines such as random init or chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.engine.metrics import read_jsonl

__all__ = ["learning_figure", "seed_band", "seed_bars", "seed_stats", "study_figure"]


def _save(fig: Any, path: str | Path) -> Path:
    """Lay out, write (110 dpi) and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def learning_figure(path: str | Path, metrics: str | Path, loss_keys: Sequence[str], loss_title: str,
                    bars: Mapping[str, Sequence[float]], bar_names: Sequence[str], chance: float,
                    bar_title: str, ylabel: str = "top-1 (%)") -> Path:
    """Write a two-panel PNG: loss curves of a run, and grouped bars with a dashed chance line.

    Args:
        path: the PNG to write.
        metrics: the run's ``metrics.jsonl`` (engine format; on resume the last record of a step wins).
        loss_keys: logged keys to plot against the step (those absent from the log are left out).
        loss_title: title of the loss panel.
        bars: one entry per model (legend label -> one value per name of ``bar_names``), drawn in order.
        bar_names: the x tick labels (e.g. ``["k-NN", "linear"]``).
        chance: height of the chance line.
        bar_title: title of the bar panel.
        ylabel: y label of the bar panel.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    rows = read_jsonl(metrics)
    for key in loss_keys:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            a.plot(*zip(*pts), label=key)
    a.set_xlabel("step")
    a.set_title(loss_title)
    a.legend(fontsize=7)
    x = np.arange(len(bar_names))
    width = 0.8 / max(len(bars), 1)
    for i, (label, values) in enumerate(bars.items()):
        b.bar(x + (i - (len(bars) - 1) / 2) * width, list(values), width, label=label)
    b.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    b.set_xticks(x, list(bar_names))
    b.set_ylabel(ylabel)
    b.set_title(bar_title)
    b.legend(fontsize=7)
    return _save(fig, path)


def seed_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample std over seeds (the first axis); the std is 0 for one seed.

    The sample std (ddof 1) is the one of the tables' ``mean ± std`` (:func:`sparse_core.report.mean_std`).

    Shape:
        values: (seeds, ...) -> two arrays of shape (...).
    """
    values = np.asarray(values, dtype=float)
    std = values.std(0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1:])
    return values.mean(0), std


def seed_band(seeds: Sequence[Sequence[tuple[float, float]]]) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Mean and sample std over seeds of a curve, at the x values every seed has.

    Args:
        seeds: for each seed, its ``(x, y)`` points (on resume the last point of an x wins).

    Returns:
        ``(xs, mean, std)``: the shared x values in increasing order and, at each, the mean and std of y.
    """
    if not seeds:
        return [], np.zeros(0), np.zeros(0)
    common = sorted(set.intersection(*(set(x for x, _ in run) for run in seeds)))
    ys = np.array([[dict(run)[x] for x in common] for run in seeds], dtype=float).reshape(len(seeds), len(common))
    return common, *seed_stats(ys)


def study_figure(path: str | Path, curves: Mapping[str, Sequence[Sequence[tuple[float, float]]]],
                 bars: Mapping[str, Sequence[float]], references: Mapping[str, float], xlabel: str,
                 ylabel: str, curve_title: str, bar_title: str) -> Path:
    """Write a two-panel PNG: learning curves with a seed band, and the final values with error bars.

    Args:
        path: the PNG to write.
        curves: one entry per method (legend label -> for each seed, its ``(x, y)`` points, e.g. images seen
            and k-NN top-1). Seeds are averaged at the x values they share; the band is ± one std.
        bars: one entry per bar (label -> the value of every seed); drawn as mean with a ± std error bar.
        references: horizontal lines drawn on both panels (label -> value), e.g. random init, chance.
        xlabel: x label of the curve panel.
        ylabel: y label of both panels.
        curve_title: title of the curve panel.
        bar_title: title of the bar panel.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.2, 1]})
    for label, seeds in curves.items():
        common, mean, std = seed_band(seeds)
        if not common:
            continue
        (line,) = a.plot(common, mean, marker="o", ms=3, label=label)
        a.fill_between(common, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    names = list(bars)
    stats = [seed_stats(np.asarray(bars[n])) for n in names]
    means, stds = [float(m) for m, _ in stats], [float(sd) for _, sd in stats]
    b.barh(np.arange(len(names)), means, xerr=stds, color="tab:blue", alpha=0.8, capsize=3)
    b.set_yticks(np.arange(len(names)), names, fontsize=7)
    b.invert_yaxis()
    for i, (m, s) in enumerate(zip(means, stds)):
        b.text(m + s + 0.5, i, f"{m:.1f}", va="center", fontsize=7)
    styles = ["--", ":", "-."]
    for i, (label, value) in enumerate(references.items()):
        a.axhline(value, color="gray", ls=styles[i % 3], lw=1, label=label)
        b.axvline(value, color="gray", ls=styles[i % 3], lw=1)
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    a.set_title(curve_title)
    a.legend(fontsize=7)
    b.set_xlabel(ylabel)
    b.set_title(bar_title)
    return _save(fig, path)


def seed_bars(path: str | Path, per_seed: Sequence[Sequence[Mapping[str, Any]]], labels: Sequence[str],
              metrics: Mapping[str, str], title: str, ylabel: str = "top-1 (%)",
              references: Mapping[str, float] | None = None, figsize: tuple[float, float] = (9, 3.6)) -> Path:
    """Write grouped bars of a study's rows: one group per row, one bar per metric, mean ± sample std over seeds.

    Args:
        path: the PNG to write.
        per_seed: for each seed, its table rows (the same rows in the same order in every seed).
        labels: x tick label of each row.
        metrics: row key -> legend label, one bar per key.
        title: the figure's title.
        ylabel: y label.
        references: horizontal dashed lines (legend label -> value), e.g. chance.
        figsize: figure size in inches.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    x = np.arange(len(labels))
    width = 0.8 / max(len(metrics), 1)
    for i, (key, name) in enumerate(metrics.items()):
        mean, std = seed_stats(np.array([[rows[j][key] for j in range(len(labels))] for rows in per_seed]))
        ax.bar(x + (i - (len(metrics) - 1) / 2) * width, mean, width, yerr=std, capsize=3, label=name)
    for name, value in (references or {}).items():
        ax.axhline(value, color="gray", ls="--", lw=1, label=name)
    ax.set_xticks(x, list(labels), fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _save(fig, path)
