"""Image <-> text retrieval recall at k (R@1/5/10), as reported for Flickr30k / MS-COCO / XTD10.

R@k of image -> text is the percentage of images whose best-ranked relevant caption is among the top k
captions by cosine similarity; text -> image likewise for captions. ``relevant`` says which captions belong to
which image: the identity for one caption per image, several for COCO's five captions, and caption equality for
the procedural pairs (many images share "a red circle").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["recall_at_k", "retrieval_scores", "same_caption"]


def recall_at_k(scores: Tensor, relevant: Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """Recall at each k of queries (rows) against a gallery (columns).

    A query counts as found at k when at least one relevant item has fewer than k gallery items scoring
    strictly higher (a tie with the relevant item counts in the query's favour).

    Args:
        scores: similarity of every query with every gallery item.
        relevant: which gallery items are correct for each query (every row must have one).
        ks: the cut-offs.

    Returns:
        ``{k: percent of queries found in the top k}``.

    Shape:
        scores, relevant: (Q, G).

    Raises:
        ValueError: a query without any relevant item.
    """
    relevant = relevant.bool()
    if not bool(relevant.any(dim=1).all()):
        raise ValueError("recall_at_k: every query needs at least one relevant gallery item")
    best = scores.masked_fill(~relevant, float("-inf")).max(dim=1, keepdim=True).values  # (Q, 1)
    rank = (scores > best).sum(dim=1)  # 0-based rank of the best relevant item
    return {k: float((rank < k).float().mean() * 100.0) for k in ks}


def retrieval_scores(image_emb: Tensor, text_emb: Tensor, relevant: Tensor | None = None,
                     ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """R@k in both directions for l2-normalised embeddings.

    Args:
        image_emb: image embeddings.
        text_emb: caption embeddings.
        relevant: ``relevant[i, j]`` when caption j describes image i; default the identity (pairs).
        ks: the cut-offs.

    Returns:
        ``{"i2t_R@k": %, "t2i_R@k": %, ..., "mean_R": mean of all of them}``.

    Shape:
        image_emb: (N, D); text_emb: (M, D); relevant: (N, M) bool.
    """
    if relevant is None:
        if image_emb.shape[0] != text_emb.shape[0]:
            raise ValueError("retrieval_scores: pass `relevant` when images and captions differ in number")
        relevant = torch.eye(image_emb.shape[0], dtype=torch.bool)
    sim = image_emb.float() @ text_emb.float().T
    out = {f"i2t_R@{k}": v for k, v in recall_at_k(sim, relevant, ks).items()}
    out |= {f"t2i_R@{k}": v for k, v in recall_at_k(sim.T, relevant.T, ks).items()}
    out["mean_R"] = sum(out.values()) / len(out)
    return out


def same_caption(captions: Sequence[str], gallery: Sequence[str] | None = None) -> Tensor:
    """Relevance by identical caption text: ``out[i, j]`` when ``captions[i] == gallery[j]``.

    Shape:
        returns (len(captions), len(gallery)) bool (gallery defaults to ``captions``).
    """
    gallery = captions if gallery is None else gallery
    ids = {c: i for i, c in enumerate(dict.fromkeys([*captions, *gallery]))}
    a = torch.tensor([ids[c] for c in captions])
    b = torch.tensor([ids[c] for c in gallery])
    return a[:, None] == b[None, :]
