"""Evaluation of SF-CLIP: zero-shot classification, retrieval, multilingual retrieval, linear probe, dense
zero-shot segmentation (``sfclip-eval``)."""

from sfclip.evaluation.model import CLIPEncoder, build_student, load_run
from sfclip.evaluation.multilingual import multilingual_retrieval, read_multilingual_folder
from sfclip.evaluation.probe import bn_linear_probe
from sfclip.evaluation.retrieval import recall_at_k, retrieval_scores, same_caption
from sfclip.evaluation.segmentation import dense_predict, mean_iou
from sfclip.evaluation.shapes import HeldOutPairs, class_names, held_out_pairs, translate
from sfclip.evaluation.suite import evaluate_pairs
from sfclip.evaluation.zeroshot import DEFAULT_TEMPLATES, class_embeddings, topk_accuracy, zero_shot_scores

__all__ = ["CLIPEncoder", "DEFAULT_TEMPLATES", "HeldOutPairs", "bn_linear_probe", "build_student",
           "class_embeddings", "class_names", "dense_predict", "evaluate_pairs", "held_out_pairs", "load_run",
           "mean_iou", "multilingual_retrieval", "read_multilingual_folder", "recall_at_k", "retrieval_scores",
           "same_caption", "topk_accuracy", "translate", "zero_shot_scores"]
