"""Pixel-space prediction, generation and infilling through RiverPredictor."""

from __future__ import annotations

import pytest
import torch

from river_vp.flow.conditioning import ConditionSpec
from river_vp.flow.sampler import SamplerConfig
from river_vp.models.uvit import VectorFieldRegressor
from river_vp.models.vqgan import VQGAN
from river_vp.predictor import RiverPredictor


@pytest.fixture
def predictor(vqgan_cfg, field_cfg) -> RiverPredictor:
    return RiverPredictor(
        VectorFieldRegressor(field_cfg()), ConditionSpec(), 1e-4, VQGAN(vqgan_cfg), latent_scale=3.0
    )


def test_predict_shapes_and_given_frames(predictor: RiverPredictor) -> None:
    video = torch.rand(2, 3, 3, 16, 16) * 2 - 1
    out = predictor.predict(
        video, 2, SamplerConfig(steps=2), num_samples=2, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == (4, 5, 3, 16, 16) and out.abs().max() <= 1
    # the given frames come back autoencoded; the latent scale cancels between encode and decode
    torch.testing.assert_close(
        out[0, :3], predictor.vqgan.decode_video(predictor.vqgan.encode_video(video[0]))
    )


def test_generate_and_infill(predictor: RiverPredictor, vqgan_cfg, field_cfg) -> None:
    gen = torch.Generator().manual_seed(0)
    assert predictor.generate(2, 3, SamplerConfig(steps=2), gen).shape == (2, 3, 3, 16, 16)
    src, goal = torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16)
    with pytest.raises(ValueError, match="interp"):
        predictor.infill(src, goal, 2, SamplerConfig(steps=2))
    planner = RiverPredictor(
        VectorFieldRegressor(field_cfg()), ConditionSpec(mode="interp"), 1e-4, VQGAN(vqgan_cfg)
    )
    assert planner.infill(src, goal, 2, SamplerConfig(steps=2), gen).shape == (1, 4, 3, 16, 16)
