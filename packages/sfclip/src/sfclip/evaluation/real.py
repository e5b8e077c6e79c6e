"""Evaluations on real images and captions: Fashion-MNIST zero-shot, openclipart retrieval, emoji names per language.

* **Zero-shot** top-1 over Fashion-MNIST's 10 class names (:data:`FASHION_NAMES`) with SLIP's 7 prompts, on
  test images no run trained on; scored twice: as stored (a light garment on black) and inverted (dark on
  white, the convention of the clip art the study trains on).
* **Retrieval** R@1/5 both ways on held-out openclipart pairs (the seeded test split by file), against the
  distinct captions, each relevant to every image it describes (several icons share a caption).
* **Multilingual** retrieval (XTD10-style) on rendered emoji: the same images, their Unicode names in each
  language, R@1/5 both ways per language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from sfclip.evaluation.model import CLIPEncoder
from sfclip.evaluation.retrieval import retrieval_scores, same_caption
from sfclip.evaluation.zeroshot import SLIP_IMAGENET_TEMPLATES, class_embeddings, zero_shot_scores

__all__ = ["FASHION_NAMES", "RealSets", "load_real_sets", "evaluate_real", "fashion_images"]

FASHION_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                 "ankle boot")
"""Fashion-MNIST's class names as prompts read them ("T-shirt/top" as "t-shirt", lower case)."""


@dataclass
class RealSets:
    """The three evaluation sets.

    Shape:
        fashion: (N_f, 3, S, S) in [0, 1] (as stored); fashion_label: (N_f,); clipart: (N_c, 3, S, S);
        emoji: (N_e, 3, S, S).
    """

    fashion: Tensor
    fashion_label: Tensor
    clipart: Tensor
    clipart_captions: list[str]
    emoji: Tensor
    emoji_names: dict[str, list[str]]


def fashion_images(size: int, num: int, root: str | None = None) -> tuple[Tensor, Tensor]:
    """The first ``num`` Fashion-MNIST test images, grey repeated to RGB, resized to ``size``, and their labels."""
    from sparse_core.data.fashion_mnist import FashionMNIST

    ds = FashionMNIST(root=root, split="test", channels=3)
    n = min(num, len(ds))
    items = [ds[i] for i in range(n)]
    images = torch.stack([it["image"] for it in items])
    images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.clamp(0, 1), torch.tensor([int(it["label"]) for it in items])


def load_real_sets(size: int, num_fashion: int = 1000, num_clipart: int = 0, num_emoji: int = 500,
                   languages: Sequence[str] = ("en",), clipart_root: str = "", fashion_root: str | None = None,
                   seed: int = 0) -> RealSets:
    """Build the three sets at image side ``size``.

    Args:
        size: image side.
        num_fashion: Fashion-MNIST test images.
        num_clipart: held-out openclipart pairs (the first of the test split; 0: all of it).
        num_emoji: emoji (a seeded choice; 0: all).
        languages: the emoji name languages.
        clipart_root: folder with ``svg/`` + ``png/`` (empty: Debian's).
        fashion_root: Fashion-MNIST folder (None: Debian's).
        seed: seed of the openclipart split and of the emoji choice.

    Raises:
        DatasetError: a missing package (the message names it).
    """
    from sfclip.emoji_set import EmojiSet
    from sfclip.openclipart import OpenClipart

    fashion, label = fashion_images(size, num_fashion, fashion_root)
    test = OpenClipart(clipart_root, size, "test", seed=seed)
    n = len(test) if not num_clipart else min(num_clipart, len(test))
    kept = [s for s in (test[i] for i in range(n)) if s is not None]
    emoji = EmojiSet(size, languages, limit=num_emoji, seed=seed)
    return RealSets(fashion, label, torch.stack([s["image"] for s in kept]), [s["caption"] for s in kept],
                    emoji.images, emoji.names)


def _r15(scores: dict[str, float]) -> dict[str, float]:
    """R@1 / R@5 both ways and their mean."""
    keep = {k: v for k, v in scores.items() if k.endswith(("R@1", "R@5"))}
    return {**keep, "mean_R": sum(keep.values()) / len(keep)}


def evaluate_real(model: CLIPEncoder, sets: RealSets, templates: Sequence[str] = SLIP_IMAGENET_TEMPLATES,
                  batch_size: int = 256) -> dict[str, float]:
    """Every score of the three sets, flat.

    Returns:
        ``fashion_top1`` (inverted images), ``fashion_raw_top1`` (as stored), ``clipart_{i2t,t2i}_R@{1,5}`` and
        ``clipart_mean_R``, ``emoji_<lang>_{i2t,t2i}_R@{1,5}`` and ``emoji_<lang>_mean_R`` per language, and
        ``emoji_mean_R`` (over the languages).
    """
    def texts(captions: list[str]) -> Tensor:
        return model.encode_texts(captions, batch_size)

    cls = class_embeddings(texts, list(FASHION_NAMES), templates)
    out = {"fashion_top1": zero_shot_scores(model.encode_images(1.0 - sets.fashion, batch_size),
                                            sets.fashion_label, cls, ks=(1,))["top1"],
           "fashion_raw_top1": zero_shot_scores(model.encode_images(sets.fashion, batch_size),
                                                sets.fashion_label, cls, ks=(1,))["top1"]}
    img = model.encode_images(sets.clipart, batch_size)
    unique = list(dict.fromkeys(sets.clipart_captions))
    out |= {f"clipart_{k}": v for k, v in _r15(retrieval_scores(img, texts(unique), same_caption(
        sets.clipart_captions, unique), ks=(1, 5))).items()}
    img = model.encode_images(sets.emoji, batch_size)
    means = []
    for lang, names in sets.emoji_names.items():
        unique = list(dict.fromkeys(names))
        r = _r15(retrieval_scores(img, texts(unique), same_caption(names, unique), ks=(1, 5)))
        out |= {f"emoji_{lang}_{k}": v for k, v in r.items()}
        means.append(r["mean_R"])
    out["emoji_mean_R"] = sum(means) / len(means)
    return out
