"""Bad values are refused when the config is built, before any work: one line naming the key, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from river_vp.cli import evaluate, predict, train, train_ae
from river_vp.config import (
    AutoencoderRunConfig,
    EncodeConfig,
    EvalConfig,
    FlowRunConfig,
    PredictConfig,
    VideoDataConfig,
)
from river_vp.models.refiner import RefinerConfig
from river_vp.models.uvit import VectorFieldConfig
from river_vp.models.vqgan import VQGANConfig
from river_vp.tasks.autoencoder import AELossConfig
from sparse_core.config import ConfigError
from sparse_core.testing import assert_cli_refuses, assert_config_refuses


@pytest.mark.parametrize(
    ("main", "flags", "key"),
    [
        (train_ae.main, ["--data.image_size", "30"], "data.image_size (30) must be divisible by the VQGAN"),
        (train_ae.main, ["--model.num_codes", "0"], "model.num_codes"),
        (train_ae.main, ["--loss.disc_weight", "-1"], "loss.disc_weight"),
        (train.main, ["--model.patch_size", "3"], "model.state_size (8) must be divisible by model.patch_size (3)"),
        (train.main, ["--cond_noise_prob", "1.5"], "cond_noise_prob"),
        (train.main, ["--ema_decay", "1.0"], "ema_decay"),
        (predict.main, ["--num_future", "0"], "num_future"),
        (evaluate.main, ["--protocol", "ucf"], "protocol must be one of 'custom', 'bair'"),
        (evaluate.main, ["--device", "gpu0"], "device"),
    ],
)
def test_clis_refuse_bad_values_up_front(main: Any, flags: list[str], key: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert_cli_refuses(main, ["--config", "tiny", *flags], key, capsys)


@pytest.mark.parametrize(
    ("cls", "kwargs", "key"),
    [
        (VideoDataConfig, {"frames_per_video": 0}, "data.frames_per_video"),
        (VideoDataConfig, {"num_frames": 0}, "data.num_frames"),
        (VideoDataConfig, {"image_size": 0}, "data.image_size"),
        (VideoDataConfig, {"segment_frames": -1}, "data.segment_frames"),
        (EncodeConfig, {"batch_frames": 0}, "batch_frames"),
        (EncodeConfig, {"shard_frames": 0}, "shard_frames"),
        (FlowRunConfig, {"sigma_min": 1.0}, "sigma_min"),
        (FlowRunConfig, {"latent_scale": 0.0}, "latent_scale"),
        (FlowRunConfig, {"examples_per_video": 0}, "examples_per_video"),
        (FlowRunConfig, {"prediction": "noise"}, "prediction"),
        (PredictConfig, {"fps": 0}, "fps"),
        (PredictConfig, {"window": 0}, "window"),
        (PredictConfig, {"num_context": 0}, "num_context"),
        (EvalConfig, {"batch_size": 0}, "batch_size"),
        (EvalConfig, {"num_samples": 0}, "num_samples"),
        (VectorFieldConfig, {"num_conditions": 3}, "model.num_conditions must be one of 1, 2"),
        (VectorFieldConfig, {"width": 100}, "model.width (100) must be divisible by model.num_heads (12)"),
        (VectorFieldConfig, {"depth_in": -1}, "model.depth_in"),
        (VectorFieldConfig, {"mlp_ratio": 0.0}, "model.mlp_ratio"),
        (VQGANConfig, {"ch_mult": []}, "model.ch_mult"),
        (VQGANConfig, {"ch_mult": [1, 0]}, "model.ch_mult[1]"),
        (VQGANConfig, {"dropout": 1.0}, "model.dropout"),
        (VQGANConfig, {"beta": -0.1}, "model.beta"),
        (AELossConfig, {"disc_start": -1}, "loss.disc_start"),
        (AELossConfig, {"disc_layers": 0}, "loss.disc_layers"),
        (AELossConfig, {"disc_clip_grad": 0.0}, "loss.disc_clip_grad"),
        (AELossConfig, {"disc_weight_decay": -1.0}, "loss.disc_weight_decay"),
        (RefinerConfig, {"reduction": 0}, "refiner.reduction"),
        (RefinerConfig, {"channels": 0}, "refiner.channels"),
    ],
)
def test_each_group_refuses_its_bad_values(cls: type, kwargs: dict[str, Any], key: str) -> None:
    assert_config_refuses(cls, kwargs, key)


def test_folders_may_read_every_frame() -> None:
    VideoDataConfig(source="folder", num_frames=0)  # 0 = all frames of a file; refused for generated videos


def test_autoencoder_frames_must_tile_into_latents() -> None:
    AutoencoderRunConfig(model=VQGANConfig(ch_mult=[1, 2]), data=VideoDataConfig(image_size=30))  # f = 2
    with pytest.raises(ConfigError, match=r"data.image_size \(30\)"):
        AutoencoderRunConfig(model=VQGANConfig(ch_mult=[1, 2, 2]), data=VideoDataConfig(image_size=30))  # f = 4
