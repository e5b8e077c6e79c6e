"""``dilemma-eval --config RUN/config.yaml --checkpoint RUN/checkpoints/<file>.pt``: evaluate a run.

Runs the evaluations of the ``eval`` group (k-NN, Linear_F, few-shot, mismatch detection, segmentation) on the
data of the ``data`` group, so transfer to another image-folder dataset is
``--data.name imagefolder --data.root NEW/train --data.eval_root NEW/val``. ``--weights backbone.safetensors``
loads exported backbone weights instead; with neither the backbone is randomly initialised (the baseline).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dilemma_ssl.config import CONFIG_DIR, DilemmaRunConfig
from sparse_core.cli import require_path, run_cli
from sparse_core.preflight import OUTPUT_DIR

__all__ = ["DilemmaEvalConfig", "main", "run"]


@dataclass
class DilemmaEvalConfig(DilemmaRunConfig):
    """dilemma-eval: evaluate a DILEMMA backbone (the run's config plus what to load)."""

    checkpoint: str | None = None
    """Training checkpoint (checkpoints/*.pt) holding the whole task (needed for mismatch accuracy)."""
    weights: str | None = None
    """Exported backbone weights (backbone.safetensors); used when no checkpoint is given."""
    out: str | None = field(default=None, metadata=OUTPUT_DIR)
    """Folder for eval.json / eval.md (default: train.out_dir)."""


def run(cfg: DilemmaEvalConfig) -> dict[str, Any]:
    """Load the weights, evaluate, print and write the results; returns them."""
    if cfg.checkpoint:
        require_path(cfg.checkpoint, "checkpoint", "file")
    elif cfg.weights:
        require_path(cfg.weights, "weights", "file")
    import torch  # torch and the models: imported for a run, not for --help or a bad argument

    from dilemma_ssl.runner import build_task, evaluate_backbone, write_eval
    from sparse_core.engine import load_checkpoint
    from sparse_core.export import load_weights

    torch.manual_seed(cfg.train.seed)
    task = build_task(cfg)
    source = "random init"
    if cfg.checkpoint:
        task.load_state_dict(load_checkpoint(cfg.checkpoint)["task"])
        source = cfg.checkpoint
    elif cfg.weights:
        load_weights(task.backbone, cfg.weights)
        source = cfg.weights
        cfg.eval.mismatch = False  # the mismatch head is not in the exported backbone
    device = "cuda" if torch.cuda.is_available() else "cpu"
    task.to(device).eval()
    res = evaluate_backbone(task, cfg)
    res["source"] = source
    write_eval(res, Path(cfg.out or cfg.train.out_dir), title=source)
    print(json.dumps(res, indent=2))
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and evaluate; 0 on success, 2 on a config error."""
    return run_cli(DilemmaEvalConfig, run, argv, prog="dilemma-eval", config_dir=CONFIG_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
