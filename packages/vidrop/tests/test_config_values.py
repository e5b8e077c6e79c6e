"""Bad values are refused when the config is built, before any work: one line naming the key, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparse_core.config import ConfigError
from sparse_core.testing import assert_cli_refuses, assert_config_refuses
from vidrop.cli import compress, evaluate
from vidrop.cli import train as train_cli
from vidrop.config import (
    CodebookFitConfig,
    CodecPsnrConfig,
    CodesEncodeConfig,
    DataConfig,
    EncoderConfig,
    HeadConfig,
    InitConfig,
    LossConfig,
    TokenConfig,
    ViDROPConfig,
    ViewsConfig,
)
from vidrop.evaluation import ProbeConfig


@pytest.mark.parametrize(
    ("flags", "key"),
    [
        (["--tokens.drop_ratio", "1.5"], "tokens.drop_ratio"),  # used to fail only at the first step
        (["--tokens.drop_ratio", "1.0"], "tokens.drop_ratio"),  # keeps no token
        (["--loss.variant", "zzz"], "loss.variant"),  # used to be accepted at parse time
        (["--tokens.drop_pattern", "zigzag"], "tokens.drop_pattern"),
        (["--encoder.patch_size", "5"], "encoder.img_size (16) must be divisible by encoder.patch_size (5)"),
        (["--encoder.tubelet_size", "3"], "encoder.num_frames (8) must be divisible by encoder.tubelet_size"),
        (["--views.local_size", "10"], "views.local_size (10) must be divisible by encoder.patch_size (4)"),
        (["--loss.centering", "none"], "loss.centering"),
        (["--data.source", "webcam"],
         "unknown data.source 'webcam'; registered: codes, moving_fashion, procedural, video"),
        (["--init.kind", "clip"], "init.kind"),
    ],
)
def test_train_cli_refuses_bad_values_up_front(flags: list[str], key: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"  # tiny_motion: 16 px clips of 4 px patches, the sizes the messages name
    assert_cli_refuses(train_cli.main, ["--config", "tiny_motion", "--train.out_dir", str(out), *flags], key, capsys)
    assert not out.exists() or not any(out.iterdir())  # core's preflight may create the (empty) folder: nothing written


def test_choice_messages_list_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert_cli_refuses(train_cli.main, ["--config", "tiny", "--loss.variant", "zzz"], "'ibot', 'dino', 'stare'", capsys)


@pytest.mark.parametrize(("flag", "value"), [("--clusters", "0"), ("--patch-size", "0"), ("--niter", "0")])
def test_compress_fit_refuses_zero_sizes(flag: str, value: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "codebook.npz"
    key = flag.lstrip("-").replace("-", "_") + " must be an integer >= 1"
    assert_cli_refuses(compress.main, ["fit", "--out", str(out), "--procedural", "2", flag, value], key, capsys)
    assert not out.exists()  # used to divide by zero


def test_eval_cli_refuses_bad_probe_values(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--config", "tiny", "--probe.protocols", "[knn,svm]"]
    err = assert_cli_refuses(evaluate.main, argv, "probe.protocols[1]", capsys)
    assert "'attentive'" in err


@pytest.mark.parametrize(
    ("cls", "kwargs", "key"),
    [
        (ViewsConfig, {"num_global": 0}, "views.num_global"),
        (ViewsConfig, {"num_local": -1}, "views.num_local"),
        (ViewsConfig, {"global_scale": (0.5, 0.2)}, "views.global_scale"),
        (ViewsConfig, {"local_scale": (0.0, 0.3)}, "views.local_scale[0]"),
        (ViewsConfig, {"frame_stride": 0}, "views.frame_stride"),
        (ViewsConfig, {"color_jitter": -0.1}, "views.color_jitter"),
        (ViewsConfig, {"grayscale_prob": 1.5}, "views.grayscale_prob"),
        (EncoderConfig, {"img_size": 100}, "encoder.img_size (100) must be divisible by encoder.patch_size (16)"),
        (EncoderConfig, {"num_frames": 15}, "encoder.num_frames (15)"),
        (EncoderConfig, {"embed_dim": 100}, "encoder.embed_dim (100) must be divisible by encoder.num_heads (12)"),
        (EncoderConfig, {"depth": 0}, "encoder.depth"),
        (EncoderConfig, {"drop_path_rate": 1.0}, "encoder.drop_path_rate"),
        (EncoderConfig, {"pos_embed_type": "rope"}, "encoder.pos_embed_type"),
        (HeadConfig, {"bottleneck_dim": 0}, "head.bottleneck_dim"),
        (HeadConfig, {"num_layers": 0}, "head.num_layers"),
        (LossConfig, {"variant": "zzz"}, "loss.variant"),
        (LossConfig, {"koleo_weight": -1.0}, "loss.koleo_weight"),
        (LossConfig, {"student_temp": 0.0}, "loss.student_temp"),
        (LossConfig, {"teacher_temp_warmup_frac": 2.0}, "loss.teacher_temp_warmup_frac"),
        (LossConfig, {"momentum_teacher": 1.1}, "loss.momentum_teacher"),
        (TokenConfig, {"drop_ratio": 1.0}, "tokens.drop_ratio must be a finite number >= 0 and < 1, got 1.0"),
        (TokenConfig, {"drop_ratio": -0.1}, "tokens.drop_ratio"),
        (TokenConfig, {"mask_ratio": (0.4, 0.1)}, "tokens.mask_ratio"),
        (TokenConfig, {"mask_sample_fraction": 1.5}, "tokens.mask_sample_fraction"),
        (DataConfig, {"max_frames": 0}, "data.max_frames"),
        (DataConfig, {"num_frames": 0}, "data.num_frames"),
        (DataConfig, {"num_classes": 9}, "data.num_classes must be an integer >= 1 and <= 8"),
        (DataConfig, {"num_videos": 0}, "data.num_videos"),
        (DataConfig, {"radius_range": (0.0, 0.2)}, "data.radius_range[0]"),
        (DataConfig, {"radius_range": (0.3, 0.2)}, "data.radius_range"),
        (DataConfig, {"speed_scale": 0.0}, "data.speed_scale"),
        (ViewsConfig, {"global_windows": -1}, "views.global_windows"),
        (InitConfig, {"kind": "clip"}, "init.kind must be one of 'random', 'videomae', 'vjepa'"),
        (ProbeConfig, {"feature": "max"}, "probe.feature"),
        (ProbeConfig, {"batch_size": 0}, "probe.batch_size"),
        (ProbeConfig, {"knn_temperature": 0.0}, "probe.knn_temperature"),
        (ProbeConfig, {"low_shot_fractions": [0.5, 1.5]}, "probe.low_shot_fractions[1]"),
        (ProbeConfig, {"linear_lrs": [0.0]}, "probe.linear_lrs[0]"),
    ],
)
def test_each_group_refuses_its_bad_values(cls: type, kwargs: dict[str, Any], key: str) -> None:
    assert_config_refuses(cls, kwargs, key)


def test_video_files_may_keep_every_frame() -> None:
    DataConfig(source="video", num_frames=0)  # 0 is refused for generated clips only


@pytest.mark.parametrize(
    ("cls", "kwargs", "key"),
    [
        (CodebookFitConfig, {"clusters": 0}, "clusters"),
        (CodebookFitConfig, {"patch_size": 0}, "patch_size"),
        (CodebookFitConfig, {"patches_per_video": 0}, "patches_per_video"),
        (CodebookFitConfig, {"procedural": 0}, "procedural"),
        (CodesEncodeConfig, {"max_frames": 0}, "max_frames"),
        (CodecPsnrConfig, {"max_frames": -1}, "max_frames"),
    ],
)
def test_compress_configs_refuse_bad_values(cls: type, kwargs: dict[str, Any], key: str) -> None:
    required = {CodebookFitConfig: {"out": "c.npz", "procedural": 2},
                CodesEncodeConfig: {"codebook": "c.npz", "src": "v", "dst": "o"},
                CodecPsnrConfig: {"codebook": "c.npz", "video": "v.mp4"}}[cls]
    message = assert_config_refuses(cls, kwargs, f"{key} must be an integer >= 1", required=required)
    assert message.startswith(key)


def test_clips_must_tile_into_tubelets() -> None:
    with pytest.raises(ConfigError, match=r"views.global_frames \(7\) must be divisible by encoder.tubelet_size"):
        ViDROPConfig(views=ViewsConfig(global_frames=7))
    ViDROPConfig(views=ViewsConfig(num_local=0, local_size=7))  # no small clips: their size is unused
