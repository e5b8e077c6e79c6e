"""BatchNorm with the statistics of the global batch (every process' rows), on every device and backend.

A plain BatchNorm on N processes normalises each process' share by its own statistics, so the result (and
every loss after it) is not what one process holding the whole batch computes. ``nn.SyncBatchNorm`` gathers
the statistics but runs on accelerators only (on CPU processes, gloo, it raises). These layers gather them
with :func:`sparse_core.distributed.gather_with_grad` (gradient included, under sparse-core's convention of
distributed-exact losses) on any backend. Users: MoCo v3's synchronised head BN (dilemma's ``head_norm:
syncbn``, MoCo v3 ``moco/builder.py``) and VQGAN's patch discriminator (river).

Without a process group (or with one process), or in eval mode with running statistics, each layer is its
torch parent. With several processes the mean and then the biased variance over the batch (and space) are each
one all-gather of per-process sums (two passes, as one process computes them, in float64 except on MPS), with
gradient; the running statistics follow with the unbiased global variance, as torch updates them. Parameters
and buffers are the parent's, so state dicts load either way.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sparse_core.distributed import gather_with_grad, get_world_size, is_dist

__all__ = ["GlobalBatchNorm1d", "GlobalBatchNorm2d", "global_batchnorm"]


class _GlobalStats(nn.modules.batchnorm._BatchNorm):
    """The shared forward of :class:`GlobalBatchNorm1d` / :class:`GlobalBatchNorm2d`.

    Shape:
        x: (B, C) or (B, C, *spatial) -> the same shape.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` with the global batch statistics (training, or no running statistics to use)."""
        batch_stats = self.training or self.running_mean is None
        if not batch_stats or not is_dist() or get_world_size() == 1 or x.ndim < 2:
            return super().forward(x)
        acc = x.double() if x.device.type != "mps" else x  # MPS has no float64
        dims = (0, *range(2, x.ndim))
        local = torch.cat([acc.sum(dims), acc.new_full((1,), float(x.numel() // x.shape[1]))])  # sums and count
        sums = gather_with_grad(local[None]).sum(0)
        count = sums[-1].detach()
        shape = (1, -1, *([1] * (x.ndim - 2)))
        mean = sums[:-1] / count
        centred = acc - mean.view(shape)
        var = gather_with_grad(centred.pow(2).sum(dims)[None]).sum(0) / count  # biased, as BN normalises
        if self.training and self.track_running_stats and self.running_mean is not None:
            self._update_running(mean.detach(), var.detach(), float(count))
        y = (centred * torch.rsqrt(var + self.eps).view(shape)).to(x.dtype)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    @torch.no_grad()
    def _update_running(self, mean: Tensor, var: Tensor, count: float) -> None:
        """Running statistics as ``F.batch_norm`` updates them (unbiased variance, momentum or cumulative)."""
        assert self.running_mean is not None and self.running_var is not None
        self.num_batches_tracked.add_(1)  # type: ignore[union-attr, operator]
        tracked = float(self.num_batches_tracked)  # type: ignore[arg-type]
        m = self.momentum if self.momentum is not None else 1.0 / tracked
        unbiased = var * (count / max(count - 1.0, 1.0))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)


class GlobalBatchNorm1d(_GlobalStats, nn.BatchNorm1d):
    """``BatchNorm1d`` whose batch statistics are those of the global batch (see the module docstring).

    Shape:
        x: (B, C) or (B, C, L) -> the same shape.
    """


class GlobalBatchNorm2d(_GlobalStats, nn.BatchNorm2d):
    """``BatchNorm2d`` whose batch statistics are those of the global batch (see the module docstring).

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """


def global_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every ``BatchNorm1d`` / ``SyncBatchNorm`` of ``module`` for a :class:`GlobalBatchNorm1d`, in place.

    The new layers hold the old ones' parameters, buffers and train/eval mode.

    Returns:
        ``module``.
    """
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.SyncBatchNorm)) and not isinstance(child, GlobalBatchNorm1d):
            bn = GlobalBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                   child.track_running_stats)
            bn.load_state_dict(child.state_dict())
            bn.train(child.training)
            setattr(module, name, bn)
        else:
            global_batchnorm(child)
    return module
