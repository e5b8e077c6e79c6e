"""Frozen-feature evaluation: feature extraction, weighted k-NN, linear probe, low-shot subsets."""

from sparse_core.eval.features import extract_features
from sparse_core.eval.knn import knn_classify, knn_predict
from sparse_core.eval.linear import linear_probe
from sparse_core.eval.lowshot import low_shot_indices

__all__ = ["extract_features", "knn_classify", "knn_predict", "linear_probe", "low_shot_indices"]
