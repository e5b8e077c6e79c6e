"""Frozen-feature evaluation and reconstruction metrics.

Feature extraction, weighted k-NN, linear and attentive probes, low-shot subsets, the protocol that
runs them, and PSNR / SSIM.
"""

from sparse_core.eval.attentive import AttentiveProbe, train_attentive_probe
from sparse_core.eval.features import extract_features
from sparse_core.eval.knn import knn_classify, knn_predict
from sparse_core.eval.linear import linear_probe
from sparse_core.eval.lowshot import low_shot_indices
from sparse_core.eval.metrics import psnr, ssim
from sparse_core.eval.protocol import ProtocolConfig, linear_grid, run_protocol

__all__ = [
    "AttentiveProbe",
    "ProtocolConfig",
    "extract_features",
    "knn_classify",
    "knn_predict",
    "linear_grid",
    "linear_probe",
    "low_shot_indices",
    "psnr",
    "run_protocol",
    "ssim",
    "train_attentive_probe",
]
