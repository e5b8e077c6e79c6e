"""Frozen-backbone evaluation of ViDROP (sec. 6.3.3): multi-view clip features for sparse-core's protocol
(k-NN, linear and low-shot probes) and attentive probe, and per-snippet feature export for temporal action
detection."""

from vidrop.evaluation.clips import EvalClips, multiview_clips
from vidrop.evaluation.protocols import ProbeConfig, encode_dataset, run_protocols
from vidrop.evaluation.snippets import snippet_features

__all__ = ["EvalClips", "multiview_clips", "ProbeConfig", "encode_dataset", "run_protocols", "snippet_features"]
