"""How the flow sees the VQGAN's latents: ``z_flow = (z - shift) / std``, per channel or one global scale.

The thesis does not say how latents are scaled before the flow. Two named forms exist (``FlowRunConfig.latent_norm``):

* ``"global"`` (default; latent diffusion's *scale factor*, Rombach et al. 2022, sec. 4.3.2 / appendix G):
  ``z_flow = z / std`` with one ``std`` over every value of the cache and no mean subtracted.
* ``"channel"``: ``z_flow[c] = (z[c] - mean_c) / std_c`` with the mean and standard deviation of each latent
  channel over the cache (what image-classification inputs and EDM's data normalisation do per channel). A
  VQGAN's channels are uneven (measured on the tiny one: means -0.86 ... 0.79, stds 0.20 ... 1.12, issue 25), so
  one global scale leaves some channels far from the unit-variance noise the flow starts from and others
  nearly constant; per channel, every channel of the target is centred and unit-variance like the noise.

The statistics are written by river-encode into the cache's ``index.json`` (``stats``) and saved with the
trained vector field (``extra["latent_norm"]``), so sampling decodes with exactly the normalisation the field
was trained with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from river_vp.component_config import LATENT_NORMS

__all__ = ["LATENT_NORMS", "LatentNorm"]



@dataclass(frozen=True)
class LatentNorm:
    """Per-channel affine map ``z -> (z - shift) / std`` between VQGAN latents and the flow's latents.

    Attributes:
        shift: per-channel value subtracted (C,).
        std: per-channel divisor (C,), > 0.
    """

    shift: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], mode: str, channels: int) -> LatentNorm:
        """The normalisation ``mode`` ('global' or 'channel') from a cache's statistics.

        Args:
            stats: ``{"mean", "std"}`` over every value, and ``{"channel_mean", "channel_std"}`` lists per
                channel (caches written before per-channel statistics have only the former).
            mode: one of :data:`LATENT_NORMS`.
            channels: latent channels C.

        Raises:
            ValueError: an unknown mode, or 'channel' on a cache without per-channel statistics.
        """
        if mode == "global":
            return cls.scale(1.0 / float(stats.get("std", 1.0)), channels)
        if mode != "channel":
            raise ValueError(f"latent_norm must be one of {LATENT_NORMS}, got {mode!r}")
        if "channel_mean" not in stats or "channel_std" not in stats:
            raise ValueError("latent_norm 'channel' needs per-channel statistics in the cache's index.json; "
                             "re-encode it with this version of river-encode")
        return cls(tuple(float(m) for m in stats["channel_mean"]),
                   tuple(max(float(s), 1e-6) for s in stats["channel_std"]))

    @classmethod
    def scale(cls, factor: float, channels: int) -> LatentNorm:
        """The global scale factor form: ``z * factor`` on every channel (no shift)."""
        return cls((0.0,) * channels, (1.0 / factor,) * channels)

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], channels: int) -> LatentNorm:
        """What a saved vector field was trained with (``extra["latent_norm"]``, else its ``latent_scale``)."""
        if "latent_norm" in extra:
            d = extra["latent_norm"]
            return cls(tuple(map(float, d["shift"])), tuple(map(float, d["std"])))
        return cls.scale(float(extra.get("latent_scale", 1.0)), channels)

    def to_extra(self) -> dict[str, list[float]]:
        """JSON-ready form stored with the vector field."""
        return {"shift": list(self.shift), "std": list(self.std)}

    def _view(self, values: Sequence[float], like: Tensor) -> Tensor:
        """(C,) -> broadcastable against ``like`` (..., C, h, w)."""
        return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, 1, 1)

    def normalize(self, z: Tensor) -> Tensor:
        """VQGAN latents -> flow latents.

        Shape:
            z: (..., C, h, w); returns the same shape.
        """
        return (z - self._view(self.shift, z)) / self._view(self.std, z)

    def denormalize(self, z: Tensor) -> Tensor:
        """Flow latents -> VQGAN latents (the inverse of :meth:`normalize`).

        Shape:
            z: (..., C, h, w); returns the same shape.
        """
        return z * self._view(self.std, z) + self._view(self.shift, z)
