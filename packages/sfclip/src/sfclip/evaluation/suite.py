"""All evaluations of one model on the held-out procedural pairs (the demo's, the study's and the tiny CLI's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from sfclip.data import COLOURS
from sfclip.evaluation.model import CLIPEncoder
from sfclip.evaluation.probe import bn_linear_probe
from sfclip.evaluation.retrieval import retrieval_scores, same_caption
from sfclip.evaluation.segmentation import dense_predict, mean_iou
from sfclip.evaluation.shapes import HeldOutPairs, class_names
from sfclip.evaluation.zeroshot import SHORT_TEMPLATES, class_embeddings, zero_shot_scores
from sparse_core.data.shapes import SHAPES

__all__ = ["BACKGROUND_PROMPTS", "evaluate_pairs", "segmentation_classes"]

BACKGROUND_PROMPTS = ("a grey background", "a gray background", "an empty grey image")
"""Prompts of the background class of the dense segmentation."""


def segmentation_classes(model: CLIPEncoder, templates: Sequence[str]) -> torch.Tensor:
    """Class embeddings of the dense segmentation: background, then one per colour.

    A colour's embedding is the ensemble of "<colour> <shape>" over every shape and template (the colour is
    what a single token can see); the background's is the ensemble of :data:`BACKGROUND_PROMPTS`.

    Returns:
        (1 + len(COLOURS), D).
    """
    colours = [class_embeddings(model.encode_texts, [f"{c} {s}" for s in SHAPES], templates).mean(dim=0)
               for c in COLOURS]
    bg = class_embeddings(model.encode_texts, list(BACKGROUND_PROMPTS), ["{}"]).mean(dim=0)
    return torch.nn.functional.normalize(torch.stack([bg, *colours]), dim=-1)


def _unique_retrieval(img: torch.Tensor, captions: list[str],
                      texts: Callable[[list[str]], torch.Tensor]) -> dict[str, float]:
    """R@k against the distinct captions: each caption text is one gallery item (image -> text) and one query
    (text -> image) relevant to every image it describes (duplicates would crowd the image -> text ranks)."""
    unique = list(dict.fromkeys(captions))
    return retrieval_scores(img, texts(unique), same_caption(captions, unique))


def evaluate_pairs(model: CLIPEncoder, pairs: HeldOutPairs, tasks: Sequence[str] = ("zeroshot", "retrieval"),
                   templates: Sequence[str] = SHORT_TEMPLATES, languages: Sequence[str] = ("en", "de"),
                   probe_pairs: HeldOutPairs | None = None, probe_epochs: int = 100,
                   batch_size: int = 256, dense_features: str = "keys") -> dict[str, float]:
    """The evaluations ``tasks`` of ``model`` on held-out procedural pairs, as flat numbers.

    Args:
        model: the student encoder.
        pairs: the evaluation pairs.
        tasks: subset of ``sfclip.evaluation.config.EVALUATIONS``.
        templates: prompt templates of the zero-shot ensembles (default the short ones: SLIP's photo
            prompts fit photographs, not flat procedural shapes).
        languages: languages of the multilingual retrieval.
        probe_pairs: training pairs of the linear probe (required for ``"linear"``).
        probe_epochs: epochs of each linear-probe run.
        batch_size: images or captions per forward pass.
        dense_features: the segmentation's per-patch features, ``keys`` or ``tokens``
            (:meth:`~sfclip.evaluation.model.CLIPEncoder.dense_embeddings`).

    Returns:
        ``zeroshot_top1`` / ``zeroshot_top5`` (40 colour-shape classes, chance 2.5 %), ``retrieval_*`` (R@k
        both ways against the distinct captions; a caption is relevant to every image it describes),
        ``multilingual_<lang>_mean_R``,
        ``linear_top1``, ``seg_mIoU`` / ``seg_pixel_acc`` (background + 8 colours).
    """
    out: dict[str, float] = {}
    img = model.encode_images(pairs.images, batch_size)

    def texts(captions: list[str]) -> torch.Tensor:
        return model.encode_texts(captions, batch_size)

    if "zeroshot" in tasks:
        cls = class_embeddings(texts, class_names(), templates)
        out |= {f"zeroshot_{k}": v for k, v in zero_shot_scores(img, pairs.label, cls).items()}
    if "retrieval" in tasks:
        out |= {f"retrieval_{k}": v for k, v in _unique_retrieval(img, pairs.captions, texts).items()}
    if "multilingual" in tasks:
        for lang in languages:
            r = _unique_retrieval(img, pairs.captions_in(lang), texts)
            out[f"multilingual_{lang}_mean_R"] = r["mean_R"]
            out[f"multilingual_{lang}_i2t_R@1"] = r["i2t_R@1"]
    if "linear" in tasks:
        if probe_pairs is None:
            raise ValueError("evaluate_pairs: the linear probe needs probe_pairs")
        out |= bn_linear_probe(model.pooled_features(probe_pairs.images, batch_size), probe_pairs.label,
                               model.pooled_features(pairs.images, batch_size), pairs.label,
                               epochs=probe_epochs, num_classes=len(class_names()))
    if "segmentation" in tasks:
        cls = segmentation_classes(model, templates)
        preds = [dense_predict(model.dense_embeddings(pairs.images[i : i + batch_size], dense_features), cls,
                               tuple(pairs.images.shape[-2:]))  # type: ignore[arg-type]
                 for i in range(0, len(pairs.captions), batch_size)]
        target = torch.where(pairs.masks, pairs.colour.view(-1, 1, 1) + 1, 0)
        out |= {f"seg_{k}": v for k, v in mean_iou(torch.cat(preds), target, cls.shape[0]).items()}
    return out
