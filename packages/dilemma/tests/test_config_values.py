"""Bad values are refused when the config is built, before any work: one line naming the key, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dilemma_ssl.cli import evaluate as eval_cli
from dilemma_ssl.cli import train as train_cli
from dilemma_ssl.config import (
    DataConfig,
    DilemmaRunConfig,
    DINOConfig,
    EvalConfig,
    MAEConfig,
    MethodConfig,
    ModelConfig,
)
from dilemma_ssl.runner import check_evaluation
from sparse_core.config import ConfigError
from sparse_core.testing import assert_cli_refuses, assert_config_refuses


@pytest.mark.parametrize(
    ("flags", "key"),
    [
        (["--eval.batch_size", "0"], "eval.batch_size"),  # used to fail only after training
        (["--model.patch_size", "5"], "model.patch_size"),  # 24 px is not a whole number of 5 px patches
        (["--method.variant", "zzz"], "method.variant"),
        (["--method.sparsity", "[0.0,1.0]", "--method.batch_multipliers", "[1,2]"], "method.sparsity[1]"),
        (["--eval.knn_t", "0"], "eval.knn_t"),
        (["--data.min_scale", "1.5"], "data.min_scale"),
        (["--data.augment", "heavy"], "data.augment"),
        (["--model.head_norm", "ln"], "model.head_norm"),
        (["--method.mae.mask_ratio", "1.0"], "method.mae.mask_ratio"),
    ],
)
def test_train_cli_refuses_bad_values_up_front(flags: list[str], key: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert_cli_refuses(train_cli.main, ["--config", "tiny", "--train.out_dir", str(out), *flags], key, capsys)
    assert not out.exists()  # nothing trained, nothing written


def test_eval_cli_refuses_bad_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert_cli_refuses(eval_cli.main, ["--config", "tiny", "--eval.knn_k", "0"], "eval.knn_k must be an integer >= 1",
                       capsys)


def _image_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


def test_segmentation_on_an_image_folder_is_refused_before_training(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    root, out = _image_folder(tmp_path / "images"), tmp_path / "run"
    argv = ["--config", "tiny", "--data.name", "imagefolder", "--data.root", str(root), "--data.eval_root",
            str(root), "--train.out_dir", str(out), "--train.max_steps", "1", "--train.batch_size", "4"]
    err = assert_cli_refuses(train_cli.main, argv, "--eval.segmentation false", capsys)  # was KeyError: 'mask'
    assert "eval.segmentation needs per-pixel masks" in err and "'imagefolder'" in err
    assert not (out / "checkpoints").exists()
    assert_cli_refuses(eval_cli.main, argv, "--eval.segmentation false", capsys)


def test_check_evaluation_accepts_masked_data() -> None:
    check_evaluation(DilemmaRunConfig(data=DataConfig(name="shapes"), eval=EvalConfig(segmentation=True)))
    check_evaluation(DilemmaRunConfig(data=DataConfig(name="imagefolder"), eval=EvalConfig(segmentation=False)))
    with pytest.raises(ConfigError, match="eval.segmentation"):
        check_evaluation(DilemmaRunConfig(data=DataConfig(name="fashion_mnist"), eval=EvalConfig(segmentation=True)))


@pytest.mark.parametrize(
    ("cls", "kwargs", "key"),
    [
        (ModelConfig, {"img_size": 0}, "model.img_size"),
        (ModelConfig, {"img_size": 24, "patch_size": 5}, "model.img_size (24) must be divisible by model.patch_size"),
        (ModelConfig, {"embed_dim": 64, "num_heads": 6}, "model.embed_dim (64) must be divisible by model.num_heads"),
        (ModelConfig, {"depth": 0}, "model.depth"),
        (ModelConfig, {"drop_path_rate": 1.0}, "model.drop_path_rate"),
        (ModelConfig, {"pos_embed_type": "rope"}, "model.pos_embed_type must be one of 'sincos', 'learned'"),
        (ModelConfig, {"proj_layers": 0}, "model.proj_layers"),
        (DINOConfig, {"teacher_temp": 0.0}, "method.dino.teacher_temp"),
        (DINOConfig, {"local_crops": -1}, "method.dino.local_crops"),
        (DINOConfig, {"out_dim": 0}, "method.dino.out_dim"),
        (MAEConfig, {"mask_ratio": -0.1}, "method.mae.mask_ratio"),
        (MAEConfig, {"decoder_dim": 129}, "method.mae.decoder_dim (129) must be divisible"),
        (MAEConfig, {"decoder_depth": 0}, "method.mae.decoder_depth"),
        (MethodConfig, {"objective": "jigsaw"}, "method.objective must be one of"),
        (MethodConfig, {"drop_policy": "greedy"}, "method.drop_policy"),
        (MethodConfig, {"theta": 1.0}, "method.theta"),
        (MethodConfig, {"lambda_dilemma": -1.0}, "method.lambda_dilemma"),
        (MethodConfig, {"sparsity": [0.1], "batch_multipliers": [1, 2]}, "must have the same length"),
        (MethodConfig, {"sparsity": [], "batch_multipliers": []}, "method.sparsity"),
        (MethodConfig, {"batch_multipliers": [1, 0, 3, 4]}, "method.batch_multipliers[1]"),
        (MethodConfig, {"constant_sparsity": 1.0}, "method.constant_sparsity"),
        (MethodConfig, {"constant_multiplier": 0}, "method.constant_multiplier"),
        (MethodConfig, {"tau": 0.0}, "method.tau"),
        (MethodConfig, {"momentum": 1.5}, "method.momentum"),
        (DataConfig, {"name": "cifar"}, "data.name must be one of 'imagefolder', 'fashion_mnist', 'shapes'"),
        (DataConfig, {"num_samples": 0}, "data.num_samples"),
        (DataConfig, {"image_size": 4}, "data.image_size"),
        (DataConfig, {"num_eval_samples": 0}, "data.num_eval_samples"),
        (DataConfig, {"min_scale": 0.0}, "data.min_scale"),
        (EvalConfig, {"batch_size": 0}, "eval.batch_size must be an integer >= 1, got 0"),
        (EvalConfig, {"linear_epochs": 0}, "eval.linear_epochs"),
        (EvalConfig, {"few_shot": [0.1, 0.0]}, "eval.few_shot[1]"),
        (EvalConfig, {"max_train_samples": 0}, "eval.max_train_samples"),
        (EvalConfig, {"max_test_samples": -3}, "eval.max_test_samples"),
    ],
)
def test_each_group_refuses_its_bad_values(cls: type, kwargs: dict[str, Any], key: str) -> None:
    assert_config_refuses(cls, kwargs, key)


def test_dino_local_crops_must_tile_into_patches() -> None:
    method = MethodConfig(variant="dino", dino=DINOConfig(local_size=90))
    with pytest.raises(ConfigError, match=r"method.dino.local_size \(90\) must be divisible by model.patch_size"):
        DilemmaRunConfig(model=ModelConfig(), method=method)
    DilemmaRunConfig(model=ModelConfig(patch_size=10, img_size=230), method=method)  # 90 = 9 x 10
