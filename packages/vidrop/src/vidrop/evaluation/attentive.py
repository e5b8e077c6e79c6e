"""Attentive probe (V-JEPA): a learned query cross-attends over frozen patch tokens, then a linear classifier."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["AttentiveProbe", "train_attentive_probe"]


class AttentiveProbe(nn.Module):
    """One learned query, multi-head cross-attention over the tokens, LayerNorm, linear classifier.

    Shape:
        tokens ``(B, K, D)`` -> logits ``(B, num_classes)``.
    """

    def __init__(self, dim: int, num_classes: int, num_heads: int = 4) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        """Pool ``tokens`` with the query and classify."""
        q = self.query.expand(tokens.shape[0], -1, -1)
        pooled, _ = self.attn(q, tokens, tokens, need_weights=False)  # (B, 1, D)
        return self.head(self.norm(pooled[:, 0]))


def train_attentive_probe(train_tokens: Tensor, train_y: Tensor, test_tokens: Tensor, test_y: Tensor,
                          num_classes: int, epochs: int = 30, lr: float = 1e-3, batch_size: int = 64,
                          num_heads: int = 4, seed: int = 0) -> dict[str, Any]:
    """Train an :class:`AttentiveProbe` on cached frozen tokens (single view) and report test top-1 (%).

    Shape:
        train_tokens ``(N, K, D)``, train_y ``(N,)``, test_tokens ``(M, K, D)``, test_y ``(M,)``.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dim = train_tokens.shape[-1]
    heads = num_heads if dim % num_heads == 0 else 1
    probe = AttentiveProbe(dim, num_classes, heads)
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    for _ in range(epochs):
        perm = torch.randperm(len(train_tokens), generator=g)
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            loss = nn.functional.cross_entropy(probe(train_tokens[idx].float()), train_y[idx].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    probe.eval()
    with torch.no_grad():
        pred = torch.cat([probe(test_tokens[i:i + 256].float()).argmax(1) for i in range(0, len(test_tokens), 256)])
    return {"test_top1": float((pred == test_y.long()).float().mean() * 100), "model": probe}
