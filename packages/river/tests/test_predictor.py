"""Pixel-space prediction, generation and infilling through RiverPredictor."""

from __future__ import annotations

import pytest
import torch

from river_vp.flow.conditioning import ConditionSpec, official_condition_spec
from river_vp.flow.sampler import SamplerConfig
from river_vp.models.io import save_river
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


def test_official_conditioning_survives_saving_and_reaches_the_field(tmp_path, tiny_ae_dir, field_cfg) -> None:
    field = VectorFieldRegressor(field_cfg())
    save_river(field, tmp_path / "river.safetensors", official_condition_spec(), 1e-4)
    pred = RiverPredictor.from_paths(tmp_path, tiny_ae_dir)
    assert pred.spec == official_condition_spec()
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    forward = pred.field.forward

    def spy(z, t, conds, dists):  # the frames' own indices are not visible in latents: record the distances
        seen.append((dists.clone(), conds.clone()))
        return forward(z, t, conds, dists)

    pred.field.forward = spy  # type: ignore[method-assign]
    video = torch.rand(8, 4, 3, 16, 16) * 2 - 1
    pred.predict(video, 1, SamplerConfig(steps=6), generator=torch.Generator().manual_seed(0))
    z = pred.encode(video)  # (B, 4, C, h, w): target tau = 4, reference 3, context in {0, 1, 2}
    for dists, conds in seen:
        assert (dists[:, 0] == 1).all()
        for row in range(8):
            c = 3 - int(dists[row, 1])  # official distance = reference - context
            torch.testing.assert_close(conds[row, 1], z[row, c])
    assert any(d[:, 1].unique().numel() > 1 for d, _ in seen)  # per-sample context draws


def test_a_saved_data_prediction_model_is_loaded_as_its_field(tmp_path, tiny_ae_dir, field_cfg) -> None:
    from river_vp.flow.matching import field_from_data
    from river_vp.tasks.flow import DataPredictionField

    net = VectorFieldRegressor(field_cfg())
    save_river(net, tmp_path / "river.safetensors", ConditionSpec(), 1e-4, extra={"prediction": "data"})
    pred = RiverPredictor.from_paths(tmp_path, tiny_ae_dir)
    assert isinstance(pred.field, DataPredictionField)
    z, t = torch.randn(2, 4, 4, 4), torch.tensor([0.2, 0.7])
    conds, dists = torch.randn(2, 2, 4, 4, 4), torch.ones(2, 2, dtype=torch.long)
    with torch.no_grad():
        torch.testing.assert_close(pred.field(z, t, conds, dists),
                                   field_from_data(z, pred.field.net(z, t, conds, dists), t, 1e-4))
    save_river(net, tmp_path / "river.safetensors", ConditionSpec(), 1e-4)  # no key: the thesis' velocity
    assert isinstance(RiverPredictor.from_paths(tmp_path, tiny_ae_dir).field, VectorFieldRegressor)
