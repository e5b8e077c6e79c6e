"""AdamW parameter groups: no weight decay on norms, biases, tokens and position embeddings; layer-wise lr decay.

Follows the conventions of timm's ``param_groups_weight_decay`` / ``param_groups_layer_decay`` and BEiT/MAE
fine-tuning: parameters with ``ndim <= 1`` or listed in ``no_weight_decay()`` get no decay; with layer decay,
the parameters of transformer block ``i`` (matched by ``blocks.<i>.``) of ``L`` get
``lr_scale = decay ** (L + 1 - (i + 1))``; embeddings (patch/pos/cls/mask tokens) get ``decay ** (L + 1)`` and
everything after the blocks (final norm, heads) gets 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch
from torch import nn

from .config import OptimConfig

__all__ = ["param_groups", "build_optimizer", "layer_id"]

_BLOCK = re.compile(r"(?:^|\.)blocks\.(\d+)\.")
_EMBED = ("patch_embed", "pos_embed", "cls_token", "mask_token", "reg_token", "dist_token")


def layer_id(name: str, num_layers: int) -> int:
    """Depth index of a parameter for layer decay: 0 for embeddings, i+1 for block i, L+1 after the blocks."""
    match = _BLOCK.search(name)
    if match:
        return int(match.group(1)) + 1
    leaf = name.split(".")
    if any(part in _EMBED for part in leaf):
        return 0
    return num_layers + 1


def _num_layers(names: Iterable[str]) -> int:
    ids = [int(m.group(1)) for n in names if (m := _BLOCK.search(n))]
    return max(ids) + 1 if ids else 0


def param_groups(model: nn.Module, weight_decay: float, layer_decay: float = 1.0,
                 no_weight_decay: set[str] | None = None) -> list[dict]:
    """Parameter groups for AdamW with ``weight_decay`` and an ``lr_scale`` per group.

    Frozen parameters (``requires_grad=False``) are left out.
    """
    skip = set(no_weight_decay or ())
    no_wd_fn = getattr(model, "no_weight_decay", None)
    if callable(no_wd_fn):
        skip |= set(no_wd_fn())
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    num_layers = _num_layers(n for n, _ in named) if layer_decay != 1.0 else 0
    groups: dict[tuple[bool, int], dict] = {}
    for name, param in named:
        no_decay = param.ndim <= 1 or name in skip or name.split(".")[-1] in skip or name.endswith(".bias")
        lid = layer_id(name, num_layers) if layer_decay != 1.0 else 0
        scale = layer_decay ** (num_layers + 1 - lid) if layer_decay != 1.0 else 1.0
        key = (no_decay, lid)
        if key not in groups:
            groups[key] = {"params": [], "names": [], "weight_decay": 0.0 if no_decay else weight_decay,
                           "apply_wd": not no_decay, "lr_scale": scale}
        groups[key]["params"].append(param)
        groups[key]["names"].append(name)
    return list(groups.values())


def build_optimizer(model: nn.Module, cfg: OptimConfig, lr: float) -> torch.optim.Optimizer:
    """AdamW over :func:`param_groups` of ``model`` (group lrs are set per step by the trainer)."""
    groups = param_groups(model, cfg.weight_decay, cfg.layer_decay)
    if not groups:
        raise ValueError("the task has no trainable parameters (all requires_grad=False)")
    fused = cfg.fused and torch.cuda.is_available()
    return torch.optim.AdamW(groups, lr=lr, betas=(cfg.betas[0], cfg.betas[1]), eps=cfg.eps, fused=fused or None)
