"""The demo stages' figure: the training loss next to a bar chart of trained vs baseline probe accuracy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sparse_core.engine.metrics import read_jsonl

__all__ = ["learning_figure"]


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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
