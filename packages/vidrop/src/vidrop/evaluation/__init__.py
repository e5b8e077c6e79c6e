"""Frozen-backbone evaluation of ViDROP (sec. 6.3.3): multi-view linear probe, attentive probe, k-NN,
low-shot linear probes and per-snippet feature export for temporal action detection."""

from vidrop.evaluation.attentive import AttentiveProbe, train_attentive_probe
from vidrop.evaluation.clips import EvalClips, multiview_clips
from vidrop.evaluation.protocols import ProbeConfig, encode_dataset, run_protocols
from vidrop.evaluation.snippets import snippet_features

__all__ = ["AttentiveProbe", "train_attentive_probe", "EvalClips", "multiview_clips", "ProbeConfig",
           "encode_dataset", "run_protocols", "snippet_features"]
