"""Metric sinks: a JSONL file, TensorBoard, and a loss-curve PNG at the end of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["MetricLogger", "plot_metrics", "read_jsonl"]


class MetricLogger:
    """Appends ``{"step": s, **metrics}`` lines to ``metrics.jsonl`` and scalars to TensorBoard (``tb/``).

    Args:
        out_dir: run directory holding ``metrics.jsonl`` and ``tb/``; created when ``enabled``.
        enabled: write anything at all (False on non-main ranks: every call is then a no-op).
        tensorboard: also write TensorBoard scalars (skipped silently when tensorboard cannot be imported).
    """

    def __init__(self, out_dir: str | Path, enabled: bool = True, tensorboard: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self.path = self.out_dir / "metrics.jsonl"
        self._tb = None
        if enabled:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(self.out_dir / "tb"))
                except ImportError:  # tensorboard is a dependency, but keep training if it is broken
                    self._tb = None

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Append one ``{"step": step, **metrics}`` record and, with TensorBoard, one scalar per key.

        Args:
            step: optimizer step the metrics belong to.
            metrics: scalar values by name.
        """
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        """Flush and close the TensorBoard writer; later :meth:`log` calls write the JSONL file only."""
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a metrics.jsonl; on resume the last record of a step wins."""
    by_step: dict[int, dict[str, Any]] = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            by_step.setdefault(rec.get("step", -1), {}).update(rec)
    return [by_step[s] for s in sorted(by_step)]


def plot_metrics(jsonl: str | Path, png: str | Path, keys: tuple[str, ...] | None = None,
                 title: str = "") -> Path | None:
    """Plot every loss-like key (or ``keys``) against the step into ``png``; None if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_jsonl(jsonl) if Path(jsonl).exists() else []
    if not records:
        return None
    keys = keys or tuple(sorted({k for r in records for k in r if "loss" in k}))
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for k in keys:
        pts = [(r["step"], r[k]) for r in records if k in r]
        if pts:
            ax.plot(*zip(*pts), label=k)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or Path(png).parent.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return Path(png)
