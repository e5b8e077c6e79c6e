"""Multilingual image <-> text retrieval (XTD10-style): the same images, captions in several languages.

XTD10 (Aggarwal & Kale 2020) translates 1000 MS-COCO captions into 10 languages and reports R@k per
language. Here the captions of each language come as a list parallel to the images; on disk, a folder of
``<stem>.<image ext>`` with ``<stem>.<lang>.txt`` per language (:func:`read_multilingual_folder`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from sfclip.data import IMAGE_EXTS, _load_image
from sfclip.evaluation.retrieval import retrieval_scores
from sparse_core.data.errors import DatasetError

__all__ = ["multilingual_retrieval", "read_multilingual_folder"]


def multilingual_retrieval(image_emb: Tensor, captions: Mapping[str, Sequence[str]],
                           encode_texts: Callable[[list[str]], Tensor],
                           relevant: Callable[[Sequence[str]], Tensor] | None = None,
                           ks: Sequence[int] = (1, 5, 10)) -> dict[str, dict[str, float]]:
    """R@k in both directions for each language.

    Args:
        image_emb: l2-normalised image embeddings.
        captions: language -> one caption per image.
        encode_texts: captions -> l2-normalised embeddings.
        relevant: captions -> (N, N) relevance (e.g. :func:`~sfclip.evaluation.retrieval.same_caption`);
            default one caption per image.
        ks: the cut-offs.

    Returns:
        language -> the scores of :func:`~sfclip.evaluation.retrieval.retrieval_scores`.

    Shape:
        image_emb: (N, D).
    """
    out = {}
    for lang, caps in captions.items():
        if len(caps) != image_emb.shape[0]:
            raise ValueError(f"multilingual_retrieval: {len(caps)} {lang} captions for {image_emb.shape[0]} images")
        rel = relevant(caps) if relevant is not None else None
        out[lang] = retrieval_scores(image_emb, encode_texts(list(caps)), rel, ks)
    return out


def read_multilingual_folder(root: str | Path, languages: Sequence[str], size: int
                             ) -> tuple[Tensor, dict[str, list[str]]]:
    """Images with a caption in every language: ``<stem>.<ext>`` + ``<stem>.<lang>.txt``.

    Images lacking a caption in one of ``languages``, empty captions and unreadable images are skipped.

    Returns:
        images (N, 3, size, size) in [0, 1] and language -> N captions.

    Raises:
        DatasetError: the folder is missing or no image has every caption.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise DatasetError(f"multilingual root {str(root)!r} is not a folder")
    images: list[Tensor] = []
    caps: dict[str, list[str]] = {lang: [] for lang in languages}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS):
        texts = {}
        for lang in languages:
            f = path.with_name(f"{path.stem}.{lang}.txt")
            text = f.read_text(encoding="utf-8", errors="replace").strip() if f.is_file() else ""
            if not text:
                break
            texts[lang] = text
        else:
            image = _load_image(path, size)
            if image is None:
                continue
            images.append(image)
            for lang in languages:
                caps[lang].append(texts[lang])
    if not images:
        raise DatasetError(f"multilingual root {str(root)!r} holds no image with a caption in each of "
                           f"{list(languages)}")
    return torch.stack(images), caps
