"""``dilemma-eval --config RUN/config.yaml --checkpoint RUN/checkpoints/<file>.pt``: evaluate a run.

Runs the evaluations of the ``eval`` group (k-NN, Linear_F, few-shot, mismatch detection, segmentation) on the
data of the ``data`` group, so transfer to another image-folder dataset is
``--data.name imagefolder --data.root NEW/train --data.eval_root NEW/val``. ``--weights backbone.safetensors``
loads exported backbone weights instead; with neither the backbone is randomly initialised (the baseline).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dilemma_ssl.config import DilemmaRunConfig
from dilemma_ssl.runner import CONFIG_DIR, build_task, evaluate_backbone, write_eval
from sparse_core.config import ConfigError, parse_config
from sparse_core.engine import load_checkpoint
from sparse_core.export import load_weights

__all__ = ["DilemmaEvalConfig", "main"]


@dataclass
class DilemmaEvalConfig(DilemmaRunConfig):
    """dilemma-eval: evaluate a DILEMMA backbone (the run's config plus what to load)."""

    checkpoint: str | None = None
    """Training checkpoint (checkpoints/*.pt) holding the whole task (needed for mismatch accuracy)."""
    weights: str | None = None
    """Exported backbone weights (backbone.safetensors); used when no checkpoint is given."""
    out: str | None = None
    """Folder for eval.json / eval.md (default: train.out_dir)."""


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse, load the weights, evaluate, print and write the results."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = parse_config(DilemmaEvalConfig, argv, prog="dilemma-eval", config_dir=CONFIG_DIR)
    except (ConfigError, ValueError) as err:
        print(f"dilemma-eval: {err}", file=sys.stderr)
        raise SystemExit(2) from None
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


if __name__ == "__main__":
    main()
