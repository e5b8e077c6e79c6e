"""The clip-encoder interface every frozen backbone is adapted to, and the registry of backbone names.

A :class:`ClipEncoder` maps clips ``(B, 3, T, H, W)`` float in [0, 1] to features ``(B, D)``; normalisation
(the backbone's mean / std) happens inside, so callers never need to know what a backbone was trained on.
:class:`FrozenEncoder` is the shared base: parameters without gradients, always in eval mode (``train()``
keeps it there, as a frozen teacher does), forward under ``torch.no_grad``, image models applied per frame
and their features averaged over time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from scale_video.config import BackboneConfig
from sparse_core.config import ConfigError

__all__ = ["ClipEncoder", "FrozenEncoder", "register_backbone", "build_backbone", "list_backbones",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Builder = Callable[[str | None, BackboneConfig], "ClipEncoder"]
_REGISTRY: dict[str, Builder] = {}


@runtime_checkable
class ClipEncoder(Protocol):
    """A frozen clip encoder ``E_*`` (sec. 4.2.3).

    Attributes:
        dim: feature width ``D``.
        input_size: frame side the backbone was trained at (the default crop size).
        num_frames: frames per clip the backbone requires (None: any number).
    """

    dim: int
    input_size: int
    num_frames: int | None

    def __call__(self, clips: Tensor) -> Tensor:
        """Encode clips. Shape: ``(B, 3, T, H, W)`` float in [0, 1] -> ``(B, D)`` float32."""
        ...


class FrozenEncoder(nn.Module):
    """Base of the adapters: normalises, runs the wrapped model without gradients, stays in eval mode.

    Subclasses implement :meth:`encode` on normalised clips.

    Args:
        dim: feature width ``D``.
        input_size: native frame side.
        mean: per-channel mean of the backbone's input normalisation (in [0, 1] units).
        std: per-channel std.
        num_frames: frames the backbone requires (None: any).
    """

    mean: Tensor
    std: Tensor

    def __init__(self, dim: int, input_size: int, mean: Sequence[float], std: Sequence[float],
                 num_frames: int | None = None) -> None:
        super().__init__()
        self.dim, self.input_size, self.num_frames = int(dim), int(input_size), num_frames
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1, 1), persistent=False)

    def freeze(self) -> FrozenEncoder:
        """Turn off gradients and switch to eval mode; returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> FrozenEncoder:
        """Always eval: a frozen backbone keeps its batch-norm statistics and has no dropout."""
        return super().train(False)

    def encode(self, x: Tensor) -> Tensor:
        """Features of normalised clips. Shape ``(B, 3, T, H, W)`` -> ``(B, D)``."""
        raise NotImplementedError

    def forward(self, clips: Tensor) -> Tensor:
        """Normalise and encode. Shape: ``(B, 3, T, H, W)`` float in [0, 1] -> ``(B, D)`` float32."""
        if clips.ndim != 5 or clips.shape[1] != 3:
            raise ValueError(f"clips must be (B, 3, T, H, W), got {tuple(clips.shape)}")
        if self.num_frames is not None and clips.shape[2] != self.num_frames:
            raise ValueError(f"this backbone takes clips of {self.num_frames} frames, got {clips.shape[2]}")
        with torch.no_grad():
            x = (clips.to(self.mean.dtype) - self.mean) / self.std
            return self.encode(x).float()


def frames_of(x: Tensor) -> tuple[Tensor, int]:
    """Clips as a batch of frames for an image model. Shape ``(B, 3, T, H, W)`` -> ``(B * T, 3, H, W)``, T."""
    b, c, t, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), t


def time_average(features: Tensor, t: int) -> Tensor:
    """Average per-frame features over time. Shape ``(B * T, D)`` -> ``(B, D)``."""
    return features.reshape(-1, t, features.shape[-1]).mean(dim=1)


def register_backbone(name: str) -> Callable[[Builder], Builder]:
    """Register a builder ``fn(variant, cfg) -> ClipEncoder`` under ``name`` (``name:<variant>`` passes the
    variant, e.g. the timm model name)."""

    def wrap(fn: Builder) -> Builder:
        _REGISTRY[name] = fn
        return fn

    return wrap


def list_backbones() -> list[str]:
    """Registered backbone names."""
    return sorted(_REGISTRY)


def build_backbone(cfg: BackboneConfig) -> ClipEncoder:
    """Build the frozen encoder ``cfg.name`` names (``efficientnet_lite0``, ``timm:<name>``, ``videovit``,
    ``open_clip:<name>``).

    Raises:
        ConfigError: an unknown name, or a name that needs a variant and has none.
    """
    kind, _, variant = cfg.name.partition(":")
    if kind not in _REGISTRY:
        raise ConfigError(f"backbone.name: unknown backbone {cfg.name!r}; choose from "
                          f"{', '.join(list_backbones())} (timm and open_clip take ':<model name>')")
    return _REGISTRY[kind](variant or None, cfg)
