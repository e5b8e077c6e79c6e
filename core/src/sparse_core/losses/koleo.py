"""KoLeo regulariser (Kozachenko-Leonenko differential entropy estimator; DINOv2 ``KoLeoLoss``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.distributed import all_gather_sizes, gather_with_grad, get_rank, global_mean
from sparse_core.losses._dtype import upcast

__all__ = ["koleo_loss"]


def koleo_loss(x: Tensor, eps: float = 1e-8, gather: bool = True) -> Tensor:
    """``-mean_i log(min_{j != i} ||x_i - x_j|| + eps)`` on L2-normalised features (DINOv2).

    The nearest neighbour is searched in the *global* batch (features all-gathered with gradient) so the value
    and gradients equal a single process holding the whole batch; DINOv2 searches per GPU, which is
    ``gather=False``. The gradient flows through both the sample and its neighbour, as in DINOv2.
    Computed in at least float32.

    Shape:
        x: (b, D) local features -> scalar.
    """
    x = F.normalize(upcast(x), dim=-1, eps=eps)
    offset = 0
    pool = x
    if gather:
        sizes = all_gather_sizes(x.shape[0], x.device)
        pool = gather_with_grad(x, sizes)  # (N, D)
        offset = sum(sizes[: get_rank()]) if len(sizes) > 1 else 0
    if pool.shape[0] < 2:
        raise ValueError("koleo_loss needs at least 2 samples in the (global) batch")
    with torch.no_grad():
        dots = x @ pool.t()  # (b, N)
        self_idx = torch.arange(x.shape[0], device=x.device) + offset
        dots[torch.arange(x.shape[0], device=x.device), self_idx] = -2.0  # below any cosine: exclude self
        nn_idx = dots.argmax(dim=1)  # (b,)
    dist = (x - pool[nn_idx]).norm(dim=-1)  # (b,)
    per_sample = -torch.log(dist + eps)
    return global_mean(per_sample) if gather else per_sample.mean()
