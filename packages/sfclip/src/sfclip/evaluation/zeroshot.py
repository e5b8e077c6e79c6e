"""Zero-shot classification with prompt ensembles (Radford et al. 2021, sec. 3.1.4).

Each class is the mean of the l2-normalised embeddings of its name in every prompt template, normalised
again; an image is assigned the class of highest cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor

from sfclip.evaluation.names import DEFAULT_TEMPLATES, SHORT_TEMPLATES, SLIP_IMAGENET_TEMPLATES

__all__ = ["DEFAULT_TEMPLATES", "SLIP_IMAGENET_TEMPLATES", "SHORT_TEMPLATES", "class_embeddings",
           "zero_shot_scores", "topk_accuracy"]


def class_embeddings(encode_texts: Callable[[list[str]], Tensor], classnames: Sequence[str],
                     templates: Sequence[str] = DEFAULT_TEMPLATES) -> Tensor:
    """One unit vector per class: the renormalised mean of its prompts' embeddings.

    Args:
        encode_texts: captions -> l2-normalised embeddings (N, D).
        classnames: the class names.
        templates: prompt templates with one ``{}``.

    Returns:
        class embeddings, (C, D).
    """
    if not templates:
        raise ValueError("class_embeddings: at least one template is needed")
    prompts = [t.format(c) for c in classnames for t in templates]
    emb = F.normalize(encode_texts(prompts).float(), dim=-1).reshape(len(classnames), len(templates), -1)
    return F.normalize(emb.mean(dim=1), dim=-1)


def topk_accuracy(logits: Tensor, labels: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Top-k accuracy in percent (k clipped to the number of classes).

    Shape:
        logits: (N, C); labels: (N,).
    """
    order = logits.argsort(dim=1, descending=True)
    hit = order == labels.view(-1, 1)
    return {k: float(hit[:, : min(k, logits.shape[1])].any(dim=1).float().mean() * 100.0) for k in ks}


def zero_shot_scores(image_emb: Tensor, labels: Tensor, class_emb: Tensor,
                     ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Zero-shot top-k of l2-normalised image embeddings against class embeddings.

    Shape:
        image_emb: (N, D); labels: (N,) in [0, C); class_emb: (C, D).

    Returns:
        ``{"top1": %, "top5": %}`` (one key per k).
    """
    logits = image_emb.float() @ class_emb.float().T
    return {f"top{k}": v for k, v in topk_accuracy(logits, labels.long(), ks).items()}

