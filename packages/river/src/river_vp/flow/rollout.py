"""Autoregressive use of the flow: prediction, infilling (visual planning) and video generation."""

from __future__ import annotations

import torch
from torch import Tensor

from river_vp.flow.conditioning import ConditionSpec
from river_vp.flow.sampler import FieldFn, SamplerConfig, sample_next_frame

__all__ = ["generate_video", "infill", "predict_future"]


@torch.no_grad()
def predict_future(
    field: FieldFn,
    context: Tensor,
    num_future: int,
    spec: ConditionSpec,
    cfg: SamplerConfig,
    generator: torch.Generator | None = None,
    num_samples: int = 1,
) -> Tensor:
    """Predict ``num_future`` latent frames after ``k`` given ones, one frame at a time (eq. 5.1).

    Args:
        field: vector field.
        context: (B, k, C, H, W) given latent frames (k >= 1).
        num_future: frames to generate.
        spec: conditioning (mode 'river' or 'no_ref').
        cfg: ODE solver settings.
        generator: CPU generator for noise and context draws.
        num_samples: independent samples per input (the batch is repeated; output is sample-major per input).

    Returns:
        (B * num_samples, k + num_future, C, H, W): the given frames followed by the predictions; rows
        ``i * num_samples ... (i + 1) * num_samples - 1`` belong to input ``i``.
    """
    if spec.mode == "interp":
        raise ValueError("predict_future needs mode 'river' or 'no_ref'; use infill for 'interp'")
    context = context.repeat_interleave(num_samples, dim=0)
    b, k = context.shape[:2]
    frames = torch.zeros((b, k + num_future, *context.shape[2:]), dtype=context.dtype, device=context.device)
    frames[:, :k] = context
    for tau in range(k, k + num_future):
        frames[:, tau] = sample_next_frame(field, frames, tau, spec, cfg, generator)
    return frames


@torch.no_grad()
def infill(
    field: FieldFn,
    source: Tensor,
    goal: Tensor,
    num_between: int,
    cfg: SamplerConfig,
    generator: torch.Generator | None = None,
    window: int | None = None,
) -> Tensor:
    """Visual planning (sec. 5.3.2): generate the frames between a source and a goal frame in order.

    Shape:
        source, goal: (B, C, H, W); returns (B, num_between + 2, C, H, W) with source first and goal last.
    """
    spec = ConditionSpec(mode="interp", window=window)
    m = num_between + 2
    frames = torch.zeros((source.shape[0], m, *source.shape[1:]), dtype=source.dtype, device=source.device)
    frames[:, 0], frames[:, -1] = source, goal
    for tau in range(1, m - 1):
        frames[:, tau] = sample_next_frame(field, frames, tau, spec, cfg, generator, future_index=m - 1)
    return frames


@torch.no_grad()
def generate_video(
    field: FieldFn,
    batch_size: int,
    num_frames: int,
    latent_shape: tuple[int, int, int],
    spec: ConditionSpec,
    cfg: SamplerConfig,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Video generation (sec. 5.3.3): an unconditional first frame, then prediction of the rest.

    Needs a model trained with ``cond_noise_prob > 0``. Returns (B, num_frames, C, H, W).
    """
    frames = torch.zeros((batch_size, 1, *latent_shape), device=device)
    frames[:, 0] = sample_next_frame(field, frames, 0, spec, cfg, generator, unconditional=True)
    return predict_future(field, frames, num_frames - 1, spec, cfg, generator)
