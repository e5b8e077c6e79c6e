"""SCALE's predictor network: a small transformer over frozen clip features, their boxes and a CLS token.

Thesis sec. 4.2.3 (Fig. 4.1): each clip embedding ``C_i`` (masked ones replaced by a learned MSK token) is
linearly projected, added to the MLP embedding ``P_i`` of its normalised box (eq. 4.5) and fed with a
learnable CLS token to a transformer; the outputs are the per-clip predictions ``Chat_i`` and the set summary
``CLS``. Sizes the thesis leaves open are the public SCALE code's defaults (hidden 256, 2 layers, 8 heads,
MLP ratio 2, dropout 0.1, heads of dim 128), named in :class:`PredictorConfig`; the contrastive heads are
three-layer MLPs without batch normalisation (sec. 4.3.1).
"""

from __future__ import annotations

import torch
from timm.layers import Mlp
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from scale_video.boxes import BOX_DIM
from scale_video.component_config import PredictorConfig
from sparse_core.heads import MLPHead

__all__ = ["PredictorConfig", "SCALEHeads", "SCALEPredictor"]


class SCALEPredictor(nn.Module):
    """Transformer over a set of clip features with box position embeddings, an MSK and a CLS token.

    Args:
        in_dim: width D of the frozen backbone's clip features.
        cfg: architecture.

    Shape:
        feats: (B, K, D), boxes: (B, K, 6), mask: (B, K) bool or None -> CLS (B, H), clips (B, K, H).
    """

    def __init__(self, in_dim: int, cfg: PredictorConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or PredictorConfig()
        self.in_dim, self.cfg = int(in_dim), cfg
        h = cfg.hidden_dim
        self.embed = nn.Linear(self.in_dim, h)
        self.pos_embed = Mlp(BOX_DIM, h, h)  # 2-layer MLP of eq. 4.5 (Linear, GELU, Linear)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, h))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, h))
        self.blocks = nn.Sequential(*[
            Block(h, cfg.num_heads, cfg.mlp_ratio, qkv_bias=True, proj_drop=cfg.dropout, attn_drop=cfg.dropout)
            for _ in range(cfg.depth)
        ])
        self.norm = nn.LayerNorm(h)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    @property
    def width(self) -> int:
        """Width H of the outputs."""
        return self.cfg.hidden_dim

    def no_weight_decay(self) -> set[str]:
        """The learned tokens are not decayed (as timm's ``cls_token``)."""
        return {"cls_token", "mask_token"}

    def forward_features(self, feats: Tensor, boxes: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Predictor outputs of a batch of clip sets.

        Args:
            feats: frozen clip features.
            boxes: normalised boxes of the clips (eq. 4.5).
            mask: True where a clip's embedding is replaced by the MSK token (None: no masking).

        Returns:
            ``(cls, clips)``: the CLS output and the per-clip outputs.

        Shape:
            feats: (B, K, D), boxes: (B, K, 6), mask: (B, K) -> (B, H), (B, K, H).
        """
        x = self.embed(feats.to(self.embed.weight.dtype))  # (B, K, H)
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_token.to(x.dtype), x)
        x = x + self.pos_embed(boxes.to(x.dtype))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)  # (B, 1 + K, H)
        x = self.norm(self.blocks(x))
        return x[:, 0], x[:, 1:]

    def forward(self, feats: Tensor, boxes: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Same as :meth:`forward_features`."""
        return self.forward_features(feats, boxes, mask)


class SCALEHeads(nn.Module):
    """The projection MLPs of eq. 4.1 for the two losses.

    ``mcm_pred`` maps predictor outputs and ``mcm_target`` maps frozen clip features (the "original unmasked
    clip representation after an MLP projection", sec. 4.2.3) to the MCM space; ``set_proj`` maps both
    sets' CLS outputs to the SET space (one MLP, as the two sets play the same role). Each is an MLP of
    ``num_layers`` linears with ReLU between them and no normalisation (:class:`sparse_core.heads.MLPHead`,
    ``norm="none"``); thesis sec. 4.3.1: three layers, without batch normalisation.

    Args:
        in_dim: width D of the frozen features.
        hidden_dim: width H of the predictor (also the heads' hidden width).
        out_dim: projection width (public SCALE code: 128).
        num_layers: linear layers per head (thesis: 3).

    Shape:
        (..., H) or (..., D) -> (..., out_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int = 128, num_layers: int = 3) -> None:
        super().__init__()
        self.mcm_pred = MLPHead(hidden_dim, hidden_dim, out_dim, num_layers=num_layers, norm="none")
        self.mcm_target = MLPHead(in_dim, hidden_dim, out_dim, num_layers=num_layers, norm="none")
        self.set_proj = MLPHead(hidden_dim, hidden_dim, out_dim, num_layers=num_layers, norm="none")
