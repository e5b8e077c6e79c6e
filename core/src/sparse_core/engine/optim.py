"""AdamW parameter groups: no weight decay on norms, biases, tokens and position embeddings; layer-wise lr decay.

Follows the conventions of timm's ``param_groups_weight_decay`` / ``param_groups_layer_decay`` and BEiT/MAE
fine-tuning: parameters with ``ndim <= 1`` or listed in ``no_weight_decay()`` get no decay; with layer decay,
the parameters of transformer block ``i`` (matched by ``blocks.<i>.``) of ``L`` get
``lr_scale = decay ** (L + 1 - (i + 1))``; embeddings (patch/pos/cls/mask tokens) get ``decay ** (L + 1)`` and
everything after the blocks (final norm, heads) gets 1.

A task may give groups of its parameters their own settings through ``Task.param_groups()`` (a list of
:class:`ParamGroup`): an lr scale on top of the schedule, a constant weight decay and a gradient clip norm of
their own (a GAN's discriminator), or an lr of 0 for the first steps (DINOv2's frozen prototype layer).
Every other parameter keeps the run's settings.

:func:`scaled_lr` is the peak lr after the batch-size scaling rule of ``optim.scale_lr_rule``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .config import OptimConfig

__all__ = ["ParamGroup", "param_groups", "build_optimizer", "layer_id", "clip_grad_groups", "scaled_lr"]

DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class ParamGroup:
    """Parameters under ``prefix`` (a submodule name in ``named_parameters()``) with their own settings.

    Attributes:
        prefix: submodule whose parameters form the group, e.g. ``"discriminator"``.
        lr_scale: multiplies the scheduled lr (warmup and cosine apply as to every group).
        weight_decay: constant weight decay of the group's decayed parameters (norms, biases and
            ``no_weight_decay()`` names still get none); ``None`` follows the run's weight-decay schedule.
        clip_grad: clip the group's own gradient norm to this value, apart from the other parameters;
            ``None`` clips it together with the other parameters by ``train.clip_grad``.
        frozen_steps: the group's lr is 0 during optimizer steps ``0 .. frozen_steps - 1``, so AdamW moves
            neither its weights nor (decoupled, scaled by the lr) its weight decay, while its gradients still
            flow and its moment estimates still accumulate: DINOv2's ``freeze_last_layer_epochs``, which zeroes
            the last layer's lr schedule for those iterations (dinov2/train/train.py).
    """

    prefix: str
    lr_scale: float = 1.0
    weight_decay: float | None = None
    clip_grad: float | None = None
    frozen_steps: int = 0

    def owns(self, name: str) -> bool:
        """Whether parameter ``name`` lies under :attr:`prefix`."""
        return name == self.prefix or name.startswith(self.prefix + ".")

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
                 no_weight_decay: set[str] | None = None, custom: Sequence[ParamGroup] = ()) -> list[dict]:
    """Parameter groups for AdamW with ``weight_decay`` and an ``lr_scale`` per group.

    Frozen parameters (``requires_grad=False``) are left out. Each group dict carries ``names``,
    ``lr_scale``, ``apply_wd`` (the trainer sets the scheduled weight decay), ``clip_grad``, ``frozen_steps``
    (the trainer sets lr 0 before that step) and ``group`` (the :class:`ParamGroup` prefix, or ``"default"``).

    Args:
        model: the module whose parameters are grouped.
        weight_decay: weight decay of decayed parameters outside a custom group.
        layer_decay: layer-wise lr decay (1.0: off).
        no_weight_decay: extra parameter names without weight decay.
        custom: groups with their own settings; a parameter belongs to the first group that owns it.
    """
    skip = set(no_weight_decay or ())
    no_wd_fn = getattr(model, "no_weight_decay", None)
    if callable(no_wd_fn):
        skip |= set(no_wd_fn())
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    num_layers = _num_layers(n for n, _ in named) if layer_decay != 1.0 else 0
    owners = [g.prefix for g in custom]
    if len(set(owners)) != len(owners) or DEFAULT_GROUP in owners:
        raise ValueError(f"parameter group prefixes must be distinct and not {DEFAULT_GROUP!r}, got {owners}")
    groups: dict[tuple[int, bool, int], dict] = {}
    for name, param in named:
        owner = next((i for i, g in enumerate(custom) if g.owns(name)), -1)
        own = custom[owner] if owner >= 0 else None
        no_decay = param.ndim <= 1 or name in skip or name.split(".")[-1] in skip or name.endswith(".bias")
        lid = layer_id(name, num_layers) if layer_decay != 1.0 else 0
        scale = layer_decay ** (num_layers + 1 - lid) if layer_decay != 1.0 else 1.0
        key = (owner, no_decay, lid)
        if key not in groups:
            fixed_wd = own is not None and own.weight_decay is not None
            wd = 0.0 if no_decay else (own.weight_decay if fixed_wd else weight_decay)  # type: ignore[union-attr]
            groups[key] = {"params": [], "names": [], "weight_decay": wd, "apply_wd": not (no_decay or fixed_wd),
                           "lr_scale": scale * (own.lr_scale if own else 1.0),
                           "clip_grad": own.clip_grad if own else None,
                           "frozen_steps": own.frozen_steps if own else 0,
                           "group": own.prefix if own else DEFAULT_GROUP}
        groups[key]["params"].append(param)
        groups[key]["names"].append(name)
    for g in custom:
        if not any(grp["group"] == g.prefix for grp in groups.values()):
            raise ValueError(f"parameter group {g.prefix!r} owns no trainable parameter")
    return list(groups.values())


def scaled_lr(cfg: OptimConfig, batch_size: int) -> float:
    """Peak lr of a run with global batch ``batch_size``: ``cfg.lr`` scaled by ``cfg.scale_lr_rule``.

    ``"linear"``: ``lr * batch_size / scale_lr_batch`` (MoCo v3, DINO with reference 256); ``"sqrt"``:
    ``lr * sqrt(batch_size / scale_lr_batch)`` (DINOv2's ``sqrt_wrt_1024`` with reference 1024,
    dinov2/utils/config.py). Without ``cfg.scale_lr`` the lr is ``cfg.lr`` unchanged.

    Args:
        cfg: the optimizer config.
        batch_size: global batch per optimizer step (all processes and accumulation steps).

    Returns:
        the learning rate the schedules peak at.
    """
    if not cfg.scale_lr:
        return cfg.lr
    ratio = batch_size / cfg.scale_lr_batch
    return cfg.lr * (math.sqrt(ratio) if cfg.scale_lr_rule == "sqrt" else ratio)


def build_optimizer(model: nn.Module, cfg: OptimConfig, lr: float) -> torch.optim.Optimizer:
    """AdamW over :func:`param_groups` of ``model`` (group lrs are set per step by the trainer).

    A model with a ``param_groups()`` method (``Task.param_groups``) returning a list of :class:`ParamGroup`
    gets those groups their own settings; ``None`` keeps one setting for all.
    """
    hook = getattr(model, "param_groups", None)
    custom = (hook() if callable(hook) else None) or ()
    groups = param_groups(model, cfg.weight_decay, cfg.layer_decay, custom=custom)
    if not groups:
        raise ValueError("the task has no trainable parameters (all requires_grad=False)")
    fused = cfg.fused and torch.cuda.is_available()
    return torch.optim.AdamW(groups, lr=lr, betas=(cfg.betas[0], cfg.betas[1]), eps=cfg.eps, fused=fused or None)


def clip_grad_groups(optimizer: torch.optim.Optimizer, clip_grad: float | None) -> dict[str, float]:
    """Clip gradient norms group by group (call after unscaling mixed-precision gradients).

    Each :class:`ParamGroup` with a ``clip_grad`` of its own is clipped alone; the rest together by ``clip_grad``.

    Args:
        optimizer: optimizer built by :func:`build_optimizer` (groups carry ``group`` and ``clip_grad``).
        clip_grad: clip norm of the parameters without a norm of their own (``None``: not clipped).

    Returns:
        the norm before clipping of each clipped set: ``"grad_norm"`` for the shared one,
        ``"grad_norm/<prefix>"`` for a group clipped on its own.
    """
    sets: dict[str, tuple[float, list[torch.Tensor]]] = {}
    for group in optimizer.param_groups:
        own = group.get("clip_grad")
        key = DEFAULT_GROUP if own is None else group.get("group", DEFAULT_GROUP)
        norm = clip_grad if own is None else own
        if norm is None:
            continue
        sets.setdefault(key, (norm, []))[1].extend(group["params"])
    norms = {}
    for key, (max_norm, params) in sets.items():
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        norms["grad_norm" if key == DEFAULT_GROUP else f"grad_norm/{key}"] = float(total)
    return norms
