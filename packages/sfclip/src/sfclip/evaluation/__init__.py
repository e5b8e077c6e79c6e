"""Evaluation of SF-CLIP: zero-shot classification, retrieval, multilingual retrieval, linear probe, dense
zero-shot segmentation (``sfclip-eval``).

Attributes load on first use (:mod:`sparse_core.lazy`), so ``sfclip.evaluation.config`` and
``sfclip-eval --help`` import no torch."""

from sparse_core.lazy import lazy_getattr

_EXPORTS = {
    "CLIPEncoder": "model",
    "build_student": "model",
    "load_run": "model",
    "multilingual_retrieval": "multilingual",
    "read_multilingual_folder": "multilingual",
    "bn_linear_probe": "probe",
    "recall_at_k": "retrieval",
    "retrieval_scores": "retrieval",
    "same_caption": "retrieval",
    "dense_predict": "segmentation",
    "mean_iou": "segmentation",
    "HeldOutPairs": "shapes",
    "class_names": "shapes",
    "held_out_pairs": "shapes",
    "translate": "shapes",
    "evaluate_pairs": "suite",
    "DEFAULT_TEMPLATES": "zeroshot",
    "class_embeddings": "zeroshot",
    "topk_accuracy": "zeroshot",
    "zero_shot_scores": "zeroshot",
}
"""Exported name -> submodule of this package that defines it."""

__all__ = ["CLIPEncoder", "DEFAULT_TEMPLATES", "HeldOutPairs", "bn_linear_probe", "build_student",
           "class_embeddings", "class_names", "dense_predict", "evaluate_pairs", "held_out_pairs", "load_run",
           "mean_iou", "multilingual_retrieval", "read_multilingual_folder", "recall_at_k", "retrieval_scores",
           "same_caption", "topk_accuracy", "translate", "zero_shot_scores"]

__getattr__ = lazy_getattr(__name__, _EXPORTS)
