"""CLIP image-text contrastive loss with a learnable logit scale (thesis eq. 7.1, open_clip ``ClipLoss``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparse_core.distributed import all_gather_sizes, gather_with_grad, get_rank, global_mean
from sparse_core.losses._dtype import upcast

__all__ = ["LogitScale", "clip_loss"]


class LogitScale(nn.Module):
    """Learnable logit scale ``exp(s)``, initialised to ``1 / 0.07`` and clamped at 100 (CLIP, open_clip).

    open_clip clamps the parameter in the training loop after each step; here the clamp is applied in
    ``forward`` (same value, the gradient is zero while clamped).

    Args:
        init_temperature: initial temperature ``tau``; the parameter starts at ``s = log(1 / tau)``.
        max_scale: largest scale ``exp(s)`` returned (CLIP: 100).
    """

    def __init__(self, init_temperature: float = 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_log = math.log(max_scale)

    def forward(self) -> Tensor:
        """Return the scalar multiplicative scale ``1 / tau``."""
        return self.log_scale.clamp(max=self.max_log).exp()


def clip_loss(img: Tensor, txt: Tensor, logit_scale: Tensor | float, normalize: bool = True,
              gather: bool = True, average_directions: bool = False) -> Tensor:
    """Symmetric image-text InfoNCE ``L_I->T + L_T->I`` (thesis eq. 7.1).

    Local-vs-global logits as open_clip with ``local_loss=True, gather_with_grad=True``: each rank scores its
    local images against every text of the global batch (and vice versa), positives at ``offset_r + i``.
    The thesis sums the two directions; open_clip averages them (``average_directions=True``).

    Args:
        img: local image embeddings.
        txt: local text embeddings, row-aligned with ``img``.
        logit_scale: multiplicative scale ``1 / tau`` (already exponentiated, e.g. ``LogitScale()()``).
        normalize: L2-normalise the embeddings (the thesis normalises; open_clip does it in the model).
        gather: all-gather negatives from every rank.
        average_directions: divide the sum of the two directions by 2 (open_clip).

    Shape:
        img, txt: (b, D) -> scalar.
    """
    if img.shape[0] != txt.shape[0]:
        raise ValueError(f"img and txt must have the same batch size, got {img.shape[0]} and {txt.shape[0]}")
    if normalize:
        img = F.normalize(img, dim=-1)
        txt = F.normalize(txt, dim=-1)
    b = img.shape[0]
    offset = 0
    all_img, all_txt = img, txt
    if gather:
        sizes = all_gather_sizes(b, img.device)
        all_img = gather_with_grad(img, sizes)
        all_txt = gather_with_grad(txt, sizes)
        offset = sum(sizes[: get_rank()]) if len(sizes) > 1 else 0
    labels = torch.arange(b, device=img.device) + offset
    logits_per_image = upcast(logit_scale * img @ all_txt.t())  # (b, N)
    logits_per_text = upcast(logit_scale * txt @ all_img.t())  # (b, N)
    per_sample = (F.cross_entropy(logits_per_image, labels, reduction="none")
                  + F.cross_entropy(logits_per_text, labels, reduction="none"))  # (b,)
    if average_directions:
        per_sample = per_sample / 2
    return global_mean(per_sample) if gather else per_sample.mean()
