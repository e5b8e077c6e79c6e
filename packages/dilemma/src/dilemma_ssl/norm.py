"""BatchNorm of the MoCo v3 / SimCLR heads with statistics over the global batch, on every device and backend.

MoCo v3 synchronises the BN of its heads (``nn.SyncBatchNorm``): a process' normalisation then depends on the
other processes' samples, and N processes compute what one process holding the whole batch computes. Torch's
``SyncBatchNorm`` only runs on accelerators (on CPU processes, gloo, it raises), so ``model.head_norm: syncbn``
uses :class:`GlobalBatchNorm1d`, which gathers the statistics with :func:`sparse_core.distributed.gather_with_grad`
(gradient included, under sparse-core's convention of distributed-exact losses) on any backend.
``model.head_norm: bn`` keeps per-process statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sparse_core.distributed import gather_with_grad, get_world_size, is_dist

__all__ = ["GlobalBatchNorm1d", "global_batchnorm"]


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose batch statistics are those of the global batch (every process' rows).

    Without a process group (or with one process) it is ``nn.BatchNorm1d``. With several, the mean and then the
    biased variance are each one all-gather of per-process sums (two passes, as one process computes them), with
    gradient; the running statistics follow with the unbiased global variance, as ``BatchNorm1d`` updates them.
    Parameters and buffers are those of ``BatchNorm1d``, so state dicts load either way.

    Shape:
        x: (B, C) -> (B, C).
    """

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` with the global batch statistics (training, or no running statistics to use)."""
        batch_stats = self.training or self.running_mean is None
        if not batch_stats or not is_dist() or get_world_size() == 1 or x.ndim != 2:
            return super().forward(x)
        acc = x.double() if x.device.type != "mps" else x  # sums in float64, as BatchNorm1d on the CPU
        local = torch.cat([acc.sum(0), acc.new_full((1,), float(x.shape[0]))])  # (C + 1,): sums and count
        sums = gather_with_grad(local[None]).sum(0)
        count = sums[-1].detach()
        mean = sums[:-1] / count
        centred = acc - mean
        var = gather_with_grad(centred.pow(2).sum(0, keepdim=True)).sum(0) / count  # biased, as BN normalises
        if self.training and self.track_running_stats and self.running_mean is not None:
            self._update_running(mean.detach(), var.detach(), float(count))
        y = (centred * torch.rsqrt(var + self.eps)).to(x.dtype)
        if self.affine:
            y = y * self.weight + self.bias
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


def global_batchnorm(module: nn.Module) -> nn.Module:
    """Replace, in place, every BatchNorm of ``module`` (``BatchNorm1d``, ``SyncBatchNorm``) by a
    :class:`GlobalBatchNorm1d` holding its parameters and buffers; returns ``module``."""
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

