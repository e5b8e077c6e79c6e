"""BatchNorm with the statistics of the global batch (every process' rows), on every device and backend.

The patch discriminator of VQGAN normalises with batch statistics; on N processes a plain ``BatchNorm2d``
normalises each process' share by its own statistics, so the discriminator, its hinge loss and the generator's
adversarial term (and the adaptive weight through it) are not what one process holding the whole batch
computes. ``nn.SyncBatchNorm`` gathers the statistics but runs on accelerators only (on CPU processes, gloo,
it raises). :class:`GlobalBatchNorm` gathers them with :func:`sparse_core.distributed.gather_with_grad`
(gradient included, under sparse-core's convention of distributed-exact losses) on any backend.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sparse_core.distributed import gather_with_grad, get_world_size, is_dist

__all__ = ["GlobalBatchNorm"]


class GlobalBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` whose batch statistics are those of the global batch.

    Without a process group (or with one process), or in eval mode with running statistics, it is
    ``nn.BatchNorm2d``. With several processes the mean and then the biased variance over batch and space are
    each one all-gather of per-process sums (two passes, as one process computes them, in float64), with
    gradient; the running statistics follow with the unbiased global variance, as ``BatchNorm2d`` updates them.
    Parameters and buffers are those of ``BatchNorm2d``, so state dicts (taming's included) load either way.

    Shape:
        x: (B, C, H, W) -> (B, C, H, W).
    """

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` with the global batch statistics (training, or no running statistics to use)."""
        batch_stats = self.training or self.running_mean is None
        if not batch_stats or not is_dist() or get_world_size() == 1:
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
