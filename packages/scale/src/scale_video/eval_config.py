"""Run configuration of ``scale-eval`` (probes of a trained predictor on evaluation-mode feature stores)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scale_video.component_config import PredictorConfig, ProbeConfig
from sparse_core.preflight import OUTPUT_DIR

__all__ = ["EVAL_CONFIG_DIR", "ScaleEvalConfig"]

EVAL_CONFIG_DIR = Path(__file__).parent / "configs" / "eval"


@dataclass
class ScaleEvalConfig:
    """``scale-eval``: SCALE's probes and the frozen-base baselines on stored evaluation features."""

    run: str | None = None
    """A ``scale-train`` run folder (its ``scale_predictor.safetensors`` and the ``model`` of its config.yaml)."""
    predictor: str | None = None
    """Or a predictor weight file directly (then ``model`` below must match it)."""
    model: PredictorConfig = field(default_factory=PredictorConfig)
    """Architecture of ``predictor`` (ignored with ``run``)."""
    train_root: str | None = None
    """Feature store of the labelled training videos, extracted in evaluation mode (5x3 views)."""
    test_root: str | None = None
    """Feature store of the test videos, extracted in evaluation mode."""
    out: str = field(default="runs/scale-eval", metadata=OUTPUT_DIR)
    """Output folder: results.json and results.md."""
    device: str = "auto"
    """'auto' (the GPU when there is one), 'cpu' or a torch device."""
    probe: ProbeConfig = field(default_factory=ProbeConfig)
