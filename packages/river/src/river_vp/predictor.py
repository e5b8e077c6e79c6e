"""Pixel-space video prediction with a trained VQGAN + vector field: encode the given frames, roll the flow
out in latent space, decode."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor

from river_vp.flow.conditioning import ConditionSpec
from river_vp.flow.latent_norm import LatentNorm
from river_vp.flow.rollout import generate_video, infill, predict_future
from river_vp.flow.sampler import SamplerConfig, sample_next_frame
from river_vp.models.io import load_river, load_vqgan
from river_vp.models.uvit import VectorFieldRegressor
from river_vp.models.vqgan import VQGAN
from river_vp.tasks.flow import DataPredictionField
from river_vp.tasks.regress import RegressorField

__all__ = ["RiverPredictor"]


class RiverPredictor:
    """A trained RIVER model ready to predict, infill and generate pixel videos in [-1, 1].

    Args:
        field: vector field.
        spec: conditioning it was trained with; its ``form`` ('thesis' or 'official', set by the loader of an
            official RIVER checkpoint through ``official_condition_spec``) selects the context distance and
            whether the context draws are per sample.
        sigma_min: sigma_min it was trained with.
        vqgan: autoencoder of the latent space.
        device: where both run.
        latent_scale: factor the flow's latents carry relative to the VQGAN's (saved with the flow weights);
            ignored when ``norm`` is given.
        norm: the map between VQGAN latents and the flow's (per channel or global; saved with the flow weights).
    """

    def __init__(
        self,
        field: VectorFieldRegressor,
        spec: ConditionSpec,
        sigma_min: float,
        vqgan: VQGAN,
        device: torch.device | str = "cpu",
        latent_scale: float = 1.0,
        norm: LatentNorm | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.field = field.to(self.device).eval()
        self.vqgan = vqgan.to(self.device).eval()
        self.spec, self.sigma_min = spec, sigma_min
        self.norm = norm if norm is not None else LatentNorm.scale(latent_scale, field.cfg.state_channels)

    @classmethod
    def from_paths(
        cls, model: str | Path, autoencoder: str | Path, device: torch.device | str = "cpu"
    ) -> RiverPredictor:
        """Load ``river.safetensors`` and ``vqgan.safetensors`` (run folders or files)."""
        field, spec, sigma_min, extra = load_river(model)
        norm = LatentNorm.from_extra(extra, field.cfg.state_channels)
        vf: VectorFieldRegressor | RegressorField | DataPredictionField = field
        if extra.get("objective") == "regression":
            vf = RegressorField(field)
        elif extra.get("prediction") == "data":
            vf = DataPredictionField(field, sigma_min)
        return cls(vf, spec, sigma_min, load_vqgan(autoencoder), device, norm=norm)  # type: ignore[arg-type]

    def _sampler(self, cfg: SamplerConfig) -> SamplerConfig:
        return dataclasses.replace(cfg, sigma_min=self.sigma_min)

    def _spec(self, window: int | None) -> ConditionSpec:
        return self.spec if window is None else dataclasses.replace(self.spec, window=window)

    @torch.no_grad()
    def encode(self, video: Tensor) -> Tensor:
        """(B, T, 3, H, W) -> scaled latents (B, T, C, h, w) as the flow sees them."""
        b, t = video.shape[:2]
        z = self.norm.normalize(self.vqgan.encode_video(video.flatten(0, 1).to(self.device)))
        return z.reshape(b, t, *z.shape[1:])

    @torch.no_grad()
    def decode(self, latents: Tensor) -> Tensor:
        """Latents (B, T, C, h, w) -> (B, T, 3, H, W) in [-1, 1]."""
        return self.vqgan.decode_video(self.norm.denormalize(latents.to(self.device)))

    @torch.no_grad()
    def autoencode(self, video: Tensor) -> Tensor:
        """Encode and decode every frame (the 'autoencoded ground truth' of Table 5.2)."""
        return self.decode(self.encode(video))

    @torch.no_grad()
    def predict(
        self,
        context: Tensor,
        num_future: int,
        sampler: SamplerConfig,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        window: int | None = None,
    ) -> Tensor:
        """Predict ``num_future`` frames after the ``k`` given ones.

        Shape:
            context: (B, k, 3, H, W) in [-1, 1]; returns (B * num_samples, k + num_future, 3, H, W), the given
            frames (autoencoded) followed by the predictions, samples of input i in rows i*S..(i+1)*S-1.
        """
        z = predict_future(
            self.field,
            self.encode(context),
            num_future,
            self._spec(window),
            self._sampler(sampler),
            generator,
            num_samples,
        )
        return self.decode(z)

    @torch.no_grad()
    def one_step(
        self,
        latents: Tensor,
        start: int,
        sampler: SamplerConfig,
        generator: torch.Generator | None = None,
        window: int | None = None,
    ) -> Tensor:
        """Teacher forcing: predict every latent frame from ``start`` on from the *true* latents before it.

        Shape:
            latents: (B, T, C, h, w) as :meth:`encode` returns them; returns (B, T - start, C, h, w).
        """
        spec, cfg = self._spec(window), self._sampler(sampler)
        steps = [sample_next_frame(self.field, latents, tau, spec, cfg, generator)
                 for tau in range(start, latents.shape[1])]
        return torch.stack(steps, 1)

    @torch.no_grad()
    def infill(
        self,
        source: Tensor,
        goal: Tensor,
        num_between: int,
        sampler: SamplerConfig,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Visual planning: (B, 3, H, W) source and goal -> (B, num_between + 2, 3, H, W)."""
        if self.spec.mode != "interp":
            raise ValueError("infilling needs a model trained with condition.mode = 'interp'")
        zs, zg = self.encode(torch.stack([source, goal], 1)).unbind(1)
        return self.decode(
            infill(self.field, zs, zg, num_between, self._sampler(sampler), generator, self.spec.window)
        )

    @torch.no_grad()
    def generate(
        self,
        batch_size: int,
        num_frames: int,
        sampler: SamplerConfig,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Video generation (model trained with cond_noise_prob > 0): (B, num_frames, 3, H, W)."""
        c, s = self.field.cfg.state_channels, self.field.cfg.state_size
        z = generate_video(
            self.field,
            batch_size,
            num_frames,
            (c, s, s),
            self.spec,
            self._sampler(sampler),
            generator,
            self.device,
        )
        return self.decode(z)
