"""Small torch.distributed helpers shared by the losses.

Gradient convention (read this before writing a training step)
-----------------------------------------------------------------
All losses in :mod:`sparse_core.losses` are *distributed-exact* under DDP gradient **averaging**
(what ``DistributedDataParallel`` and accelerate do): each rank returns a local loss ``loss_r`` such that

* ``mean_r(loss_r)`` equals the loss a single process would compute on the whole (concatenated) batch, and
* after ``loss_r.backward()`` on every rank and DDP's average of parameter gradients, the parameter gradients
  equal the single-process gradients.

For a per-sample mean this means ``loss_r = world_size / N_global * sum_{i local} l_i``, which is the plain
local mean when every rank holds the same number of samples (see :func:`global_mean`). Tensors gathered with
:func:`gather_with_grad` send back to each rank the *sum* over ranks of the gradients of their slice (the
backward of an all-gather is a reduce-scatter, as ``torch.distributed.nn.functional.all_gather``), so the
gradient reaching a rank's *input* tensors is ``world_size`` times the single-process gradient of that slice;
DDP's division by ``world_size`` then restores the exact value. Do not multiply the losses by the world size.
Logged values should be ``all_reduce_mean(loss.detach())``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "all_gather_sizes",
    "all_reduce_max",
    "all_reduce_mean",
    "all_reduce_sum",
    "gather_with_grad",
    "get_rank",
    "get_world_size",
    "global_mean",
    "is_dist",
]


def is_dist() -> bool:
    """Whether a default process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Rank in the default process group (0 when not distributed)."""
    return dist.get_rank() if is_dist() else 0


def get_world_size() -> int:
    """Size of the default process group (1 when not distributed)."""
    return dist.get_world_size() if is_dist() else 1


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum of ``x`` over ranks, returned as a new tensor (no gradient; ``x`` is left untouched).

    Shape:
        x: any; returns the same shape.
    """
    out = x.detach().clone()
    if is_dist() and get_world_size() > 1:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_mean(x: Tensor) -> Tensor:
    """Mean of ``x`` over ranks (no gradient). Shape is preserved."""
    return all_reduce_sum(x) / get_world_size()


def all_reduce_max(x: Tensor) -> Tensor:
    """Element-wise maximum of ``x`` over ranks (no gradient). Shape is preserved."""
    out = x.detach().clone()
    if is_dist() and get_world_size() > 1:
        dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return out


def all_gather_sizes(n: int, device: torch.device | None = None) -> list[int]:
    """The local sizes ``n`` of every rank, in rank order (``[n]`` when not distributed)."""
    if not is_dist() or get_world_size() == 1:
        return [n]
    t = torch.tensor([n], dtype=torch.long, device=device)
    out = [torch.zeros_like(t) for _ in range(get_world_size())]
    dist.all_gather(out, t)
    return [int(s.item()) for s in out]


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 with per-rank sizes; backward sums the gradients of every rank's slice."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: list[int]) -> Tensor:  # type: ignore[override]
        rank = get_rank()
        max_n = max(sizes)
        padded = x.new_zeros((max_n, *x.shape[1:]))
        padded[: x.shape[0]] = x
        buf = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(buf, padded.contiguous())
        ctx.sizes = sizes
        ctx.rank = rank
        return torch.cat([b[:n] for b, n in zip(buf, sizes)], dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        # Each rank holds d(loss_r)/d(gathered); the local slice needs sum_r of its rows (a reduce-scatter).
        # An all-reduce of the (small) gathered gradient works for uneven sizes and on every backend.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: ctx.rank])
        return grad[start : start + ctx.sizes[ctx.rank]], None


def gather_with_grad(x: Tensor, sizes: list[int] | None = None) -> Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping the autograd graph.

    Ranks may hold different numbers of rows (sizes are all-gathered, tensors padded, then trimmed).
    In backward the local slice receives the sum over ranks of the gradients of its rows, so a loss that
    uses the gathered tensor is distributed-exact under the convention of this module.

    Args:
        x: local tensor.
        sizes: per-rank row counts if already known (skips one all-gather).

    Shape:
        x: (b, ...) local; returns (sum_r b_r, ...), rank 0's rows first. Identity when not distributed.
    """
    if not is_dist() or get_world_size() == 1:
        return x
    if sizes is None:
        sizes = all_gather_sizes(x.shape[0], x.device)
    return _GatherWithGrad.apply(x, sizes)


def global_mean(per_sample: Tensor, local_count: Tensor | float | None = None) -> Tensor:
    """Distributed-exact mean: ``world_size / N_global * sum(per_sample)``.

    ``mean_r`` of the returned value is the mean over all samples of all ranks, and its gradient is exact
    under DDP averaging. Equals ``per_sample.mean()`` when not distributed or when every rank holds the same
    count.

    Args:
        per_sample: local per-sample losses (any shape; all elements are summed).
        local_count: the local number of samples the mean is over (defaults to ``per_sample.numel()``);
            use it for weighted means (e.g. the sum of per-sample weights).

    Shape:
        per_sample: (...) ; returns a scalar.
    """
    if local_count is None:
        local_count = float(per_sample.numel())
    count_dtype = torch.float32 if per_sample.device.type == "mps" else torch.float64  # MPS has no float64
    count = torch.as_tensor(local_count, dtype=count_dtype, device=per_sample.device)
    total = all_reduce_sum(count).clamp_min(1e-12)
    return per_sample.sum() * (get_world_size() / total).to(per_sample.dtype)
