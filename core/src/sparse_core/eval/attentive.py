"""Attentive probe (V-JEPA, Bardes et al., 2024).

A learned query cross-attends over frozen tokens, then a linear classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["AttentiveProbe", "train_attentive_probe"]


class AttentiveProbe(nn.Module):
    """One learned query, multi-head cross-attention over the tokens, LayerNorm, linear classifier.

    Args:
        dim: Token width ``D``.
        num_classes: Output classes ``C``.
        num_heads: Attention heads (must divide ``dim``).

    Shape:
        tokens ``(B, N, D)`` -> logits ``(B, C)``.
    """

    def __init__(self, dim: int, num_classes: int, num_heads: int = 4) -> None:
        """Build the query, the attention, the norm and the head (query ~ trunc-normal, std 0.02)."""
        super().__init__()
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        """Pool ``tokens (B, N, D)`` with the query and classify to ``(B, C)``."""
        q = self.query.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        pooled, _ = self.attn(q, tokens, tokens, need_weights=False)  # (B, 1, D)
        return self.head(self.norm(pooled[:, 0]))


@torch.no_grad()
def _predict(probe: nn.Module, tokens: Tensor, chunk: int = 256) -> Tensor:
    return torch.cat([probe(tokens[i : i + chunk].float()).argmax(1) for i in range(0, len(tokens), chunk)])


def train_attentive_probe(
    train_tokens: Tensor,
    train_y: Tensor,
    test_tokens: Tensor,
    test_y: Tensor,
    num_classes: int,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
    num_heads: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """Train an :class:`AttentiveProbe` on cached frozen tokens and report test top-1 (%).

    AdamW (weight decay 0.01) with a per-epoch cosine schedule over ``epochs``. The initialisation and
    the shuffling are functions of ``seed`` only; the global RNG state is left as it was.

    Args:
        train_tokens: Training tokens (any float dtype, e.g. cached float16).
        train_y: Training labels in ``[0, num_classes)``.
        test_tokens: Test tokens.
        test_y: Test labels.
        num_classes: ``C``.
        epochs: Training epochs.
        lr: Peak learning rate.
        batch_size: Samples per step.
        num_heads: Attention heads (1 if they do not divide ``D``).
        seed: Seed of the initialisation and the shuffling.

    Returns:
        ``{"test_top1": float, "model": AttentiveProbe (eval mode)}``.

    Shape:
        train_tokens ``(N, K, D)``, train_y ``(N,)``, test_tokens ``(M, K, D)``, test_y ``(M,)``.
    """
    g = torch.Generator().manual_seed(seed)
    dim = train_tokens.shape[-1]
    heads = num_heads if dim % num_heads == 0 else 1
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = AttentiveProbe(dim, num_classes, heads)
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    for _ in range(epochs):
        perm = torch.randperm(len(train_tokens), generator=g)
        for i in range(0, len(perm), batch_size):
            idx = perm[i : i + batch_size]
            loss = nn.functional.cross_entropy(probe(train_tokens[idx].float()), train_y[idx].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    probe.eval()
    pred = _predict(probe, test_tokens)
    return {"test_top1": float((pred == test_y.long()).float().mean() * 100), "model": probe}
