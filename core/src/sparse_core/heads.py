"""Projection / prediction MLPs (MoCo v3) and the DINO head (DINO, DINOv2)."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["DINOHead", "MLPHead"]


def _norm(kind: str, dim: int, affine: bool = True) -> nn.Module:
    if kind == "bn":
        return nn.BatchNorm1d(dim, affine=affine)
    if kind == "syncbn":
        return nn.SyncBatchNorm(dim, affine=affine)
    raise ValueError(f"norm must be 'bn', 'syncbn' or 'none', got {kind!r}")


class MLPHead(nn.Module):
    """MoCo v3 projection / prediction MLP: ``num_layers`` x (Linear [+ BN + ReLU]).

    Hidden layers are Linear(bias=False) + BN + ReLU; the last layer is a Linear followed, if ``last_norm``,
    by a BN *without* affine parameters (MoCo v3 ``_build_mlp(last_bn=True)``; its predictor uses
    ``last_bn=False``).
    With ``norm="none"`` the linears carry biases and no normalisation is used. ``"syncbn"`` uses
    ``nn.SyncBatchNorm`` (statistics over the global batch; CUDA only when a process group is initialised).
    Inputs with extra leading dimensions (e.g. tokens) are flattened for the BN and reshaped back.

    Args:
        in_dim: input width.
        hidden_dim: hidden width (MoCo v3: 4096).
        out_dim: output width (MoCo v3: 256).
        num_layers: number of linear layers (>= 1; MoCo v3 projector 3, predictor 2).
        norm: ``"bn"``, ``"syncbn"`` or ``"none"``.
        last_norm: BN(affine=False) after the last linear (ignored when ``norm="none"``).

    Shape:
        x: (..., in_dim) -> (..., out_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 3, norm: str = "bn",
                 last_norm: bool = True) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        use_norm = norm != "none"
        if use_norm:
            _norm(norm, 1)  # validate the name early
        layers: list[nn.Module] = []
        for i in range(num_layers):
            d_in = in_dim if i == 0 else hidden_dim
            last = i == num_layers - 1
            d_out = out_dim if last else hidden_dim
            followed_by_norm = use_norm and (not last or last_norm)
            layers.append(nn.Linear(d_in, d_out, bias=not followed_by_norm))
            if not last:
                if use_norm:
                    layers.append(_norm(norm, d_out))
                layers.append(nn.ReLU(inplace=True))
            elif followed_by_norm:
                layers.append(_norm(norm, d_out, affine=False))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP to the last dimension."""
        lead = x.shape[:-1]
        y = self.mlp(x.reshape(-1, x.shape[-1]))
        return y.reshape(*lead, y.shape[-1])


class DINOHead(nn.Module):
    """DINO projection head: MLP (GELU) -> bottleneck -> L2-normalise -> weight-normed linear prototypes.

    Follows DINO / DINOv2: hidden linears initialised with trunc-normal(std=0.02) and zero bias, the last
    layer ``Linear(bottleneck_dim, out_dim, bias=False)`` weight-normalised
    (``torch.nn.utils.parametrizations.weight_norm``) with its magnitude ``g`` filled with 1, and frozen when
    ``norm_last_layer`` (DINO; the prototypes then have unit norm and the output is a cosine similarity).
    DINOv2's head (dinov2/layers/dino_head.py) trains ``g`` from 1: ``norm_last_layer=False``.

    Args:
        in_dim: backbone width.
        out_dim: number of prototypes K (DINO: 65536).
        hidden_dim: MLP hidden width (2048).
        bottleneck_dim: bottleneck width (256).
        num_layers: MLP layers before the bottleneck output (>= 1; DINO: 3).
        norm_last_layer: freeze ``g = 1`` of the weight-normed prototype layer (DINO v1); False trains it
            from 1 (DINOv2).
        use_bn: BatchNorm after hidden linears (DINO: False for ViTs).

    Shape:
        x: (..., in_dim) -> (..., out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int = 65536, hidden_dim: int = 2048, bottleneck_dim: int = 256,
                 num_layers: int = 3, norm_last_layer: bool = True, use_bn: bool = False) -> None:
        super().__init__()
        num_layers = max(num_layers, 1)
        layers: list[nn.Module] = []
        if num_layers == 1:
            layers.append(nn.Linear(in_dim, bottleneck_dim))
        else:
            dims = [in_dim] + [hidden_dim] * (num_layers - 1)
            for d_in, d_out in itertools.pairwise(dims):
                layers.append(nn.Linear(d_in, d_out))
                if use_bn:
                    layers.append(nn.BatchNorm1d(d_out))
                layers.append(nn.GELU())
            layers.append(nn.Linear(hidden_dim, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        g = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            g.fill_(1.0)
        if norm_last_layer:
            g.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        """Return prototype scores (logits before the DINO temperatures)."""
        lead = x.shape[:-1]
        h = self.mlp(x.reshape(-1, x.shape[-1]))
        h = F.normalize(h, dim=-1, eps=1e-6 if h.dtype == torch.float16 else 1e-12)
        out = self.last_layer(h)
        return out.reshape(*lead, out.shape[-1])
