"""dilemma-train / dilemma-eval: help, config errors, a whole tiny run, and skipped corrupt images."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from dilemma_test_utils import tiny_model
from PIL import Image

from dilemma_ssl.cli import evaluate as eval_cli
from dilemma_ssl.cli import train as train_cli
from dilemma_ssl.config import DataConfig, DilemmaRunConfig, EvalConfig, MethodConfig
from dilemma_ssl.runner import CONFIG_DIR, build_task, train
from sparse_core.engine import TrainConfig
from sparse_core.testing import (
    assert_kill_and_resume_is_exact,
    assert_rejects_unknown_key,
    assert_seed_decides_weights,
    assert_study_has_common_shape,
    console_scripts,
)

TINY_RUN = [
    "--train.max_steps",
    "3",
    "--train.batch_size",
    "8",
    "--data.num_samples",
    "48",
    "--data.num_eval_samples",
    "24",
    "--model.depth",
    "1",
    "--model.embed_dim",
    "32",
    "--model.proj_hidden_dim",
    "32",
    "--eval.linear_epochs",
    "2",
    "--eval.few_shot",
    "[0.5]",
]


def test_help_lists_the_method_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        train_cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--method.lambda_dilemma" in text and "--method.sparsity" in text and "--train.max_steps" in text
    assert "--method.dino.out_dim" in text and "--method.mae.decoder_depth" in text  # variant groups


def test_every_shipped_config_parses() -> None:
    from sparse_core.config import parse_config

    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert {
        "tiny",
        "mocov3_dilemma",
        "mocov3",
        "mocov3_sparsity",
        "simclr_dilemma",
        "dino_dilemma",
        "mae_dilemma",
    } <= set(names)
    for name in names:
        cfg = parse_config(DilemmaRunConfig, ["--config", name], config_dir=CONFIG_DIR)
        assert isinstance(cfg.method, MethodConfig)
    dino = parse_config(DilemmaRunConfig, ["--config", "dino_dilemma"], config_dir=CONFIG_DIR).method.dino
    assert (dino.teacher_temp, dino.teacher_temp_warmup_steps) == (0.07, 200182)
    mae = parse_config(
        DilemmaRunConfig, ["--config", "mae_dilemma", "--method.mae.decoder_depth", "2"], config_dir=CONFIG_DIR
    ).method.mae
    assert (mae.decoder_dim, mae.decoder_depth) == (512, 2)


def test_bad_config_key_is_rejected(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert train_cli.main(["--config", "tiny", "--method.lamda_dilemma", "0.1"]) == 2
    assert "lamda_dilemma" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("method:\n  tehta: 0.3\n")
    assert train_cli.main(["--config", str(bad)]) == 2
    assert "tehta" in capsys.readouterr().err
    assert train_cli.main(["--config", "tiny", "--method.variant", "byol"]) == 2
    err = capsys.readouterr().err
    assert "byol" in err and len(err.strip().splitlines()) == 1
    assert eval_cli.main(["--config", "tiny", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "checkpoint" in capsys.readouterr().err


SCRIPTS = console_scripts("dilemma-ssl")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_rejects_an_unknown_key(script: str) -> None:
    assert_rejects_unknown_key(SCRIPTS[script])


def test_tiny_run_then_eval(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_cli.main(["--config", "tiny", "--train.out_dir", str(out), *TINY_RUN]) == 0
    res = {"eval": json.loads((out / "eval.json").read_text())}
    for name in ("config.yaml", "metrics.jsonl", "loss.png", "backbone.safetensors", "eval.json", "eval.md"):
        assert (out / name).is_file(), name
    assert {"knn", "linear", "md_acc_0.4", "attn_jaccard", "seg_miou"} <= set(res["eval"])
    md = {f"md_{k}_{s}" for k in ("acc", "auroc", "bce_rel", "undetectable", "acc_detectable") for s in ("0", "0.4")}
    assert md <= set(res["eval"])  # dense (Table 3.10) and sparse, for the trained run
    ckpt = sorted((out / "checkpoints").glob("*.pt"))[-1]
    code = eval_cli.main(
        [
            "--config",
            str(out / "config.yaml"),
            "--checkpoint",
            str(ckpt),
            "--out",
            str(tmp_path / "eval"),
            "--eval.segmentation",
            "false",
        ]
    )
    assert code == 0
    again = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert again["knn"] == pytest.approx(res["eval"]["knn"])
    # dilemma-eval on the trained checkpoint scores the trained head: the same mismatch numbers as the run's own
    for key in ("md_auroc_0", "md_auroc_0.4", "md_bce_rel_0.4"):
        assert again[key] == pytest.approx(res["eval"][key], abs=1e-6), key
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["source"] == str(ckpt)
    # the exported backbone is a plain timm model (README one-liner)
    import timm
    import torch

    from sparse_core.config import parse_config
    from sparse_core.export import load_weights

    saved = parse_config(DilemmaRunConfig, ["--config", str(out / "config.yaml")])
    arch = saved.model  # the tiny config with TINY_RUN's depth 1, width 32
    assert (arch.img_size, arch.patch_size, arch.embed_dim, arch.depth, arch.num_heads) == (24, 4, 32, 1, 4)
    model = timm.create_model(arch.arch, pretrained=True, num_classes=0, img_size=arch.img_size,
                              patch_size=arch.patch_size, embed_dim=arch.embed_dim, depth=arch.depth,
                              num_heads=arch.num_heads, pos_embed_type=arch.pos_embed_type,
                              pretrained_cfg_overlay=dict(file=str(out / "backbone.safetensors"))).eval()
    exported = build_task(saved)
    load_weights(exported.backbone, out / "backbone.safetensors")
    x = torch.randn(2, 3, 24, 24)
    with torch.no_grad():
        assert torch.allclose(
            model.forward_features(x), exported.backbone.eval().forward_features(x), atol=1e-5
        )


def test_corrupt_image_is_skipped_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    cfg = DilemmaRunConfig(
        model=tiny_model(),
        method=MethodConfig(random_sparsity=False, constant_sparsity=0.5),
        data=DataConfig(name="imagefolder", root=str(root), augment="light"),
        eval=EvalConfig(),
        train=TrainConfig(out_dir=str(tmp_path / "run"), max_steps=3, batch_size=3, progress=False),
    )
    res = train(cfg, evaluate=False)
    assert res["train"]["num_skipped"] == 1  # 3 steps x 3 images = one pass over the 9 files
    assert res["train"]["steps"] == 3


def test_study_has_the_common_shape() -> None:
    from dilemma_ssl import study

    assert_study_has_common_shape(study)


def test_study_pos_embed_reaches_every_run_and_a_bad_value_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--pos_embed sincos gives the runs MoCo v3's sin-cos positions; an unknown value fails before training."""
    from dilemma_ssl import study

    assert study.config("+DILEMMA (sum)", 10, tmp_path, 64, 100).model.pos_embed_type == "learned"
    assert study.config("+DILEMMA (sum)", 10, tmp_path, 64, 100,
                        pos_embed_type="sincos").model.pos_embed_type == "sincos"
    assert study.main(["--pos_embed", "rope", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "pos_embed" in err and "sincos" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_study_options_reach_the_runs(tmp_path: Path) -> None:
    """token reduction per method, constant lr, the tiny setting, the curve's checkpoints."""
    from dilemma_ssl import study

    sum_, mean = (study.config(m, 1500, tmp_path, 32, 1024) for m in ("+DILEMMA (sum)", "+DILEMMA (mean)"))
    assert (sum_.method.token_reduction, mean.method.token_reduction) == ("sum", "mean")
    assert sum_.optim.min_lr == 1e-5  # cosine by default
    const = study.config("+DILEMMA (sum)", 1500, tmp_path, 32, 1024, setting="tiny", lr_schedule="constant",
                         curve_points=10)
    assert const.optim.min_lr == const.optim.lr and const.optim.warmup_steps == 150
    assert const.data.name == "shapes" and const.model.img_size == 24 and not const.eval.segmentation
    assert const.train.ckpt_every == 150 and const.train.keep_last >= 10
    assert study.token_steps(const, 200) == sum(study.build_schedule(const).ratio(i) > 0 for i in range(200))
    assert study.token_steps(study.config("+Sparsity", 100, tmp_path, 32, 1024), 100) == 0
    probe = study.config("+DILEMMA (sum)", 100, tmp_path, 32, 1024, lambda_dilemma=100.0)
    assert probe.method.lambda_dilemma == 100.0
    assert study.config("+Sparsity", 100, tmp_path, 32, 1024, lambda_dilemma=100.0).method.lambda_dilemma == 0.0


@pytest.mark.parametrize(("flag", "value"), [("lr_schedule", "step"), ("setting", "imagenet"),
                                              ("methods", '["+DILEMMA (max)"]'), ("budget", "hours"),
                                              ("lambda_dilemma", "-1")])
def test_study_bad_option_exits_2_before_training(flag: str, value: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from dilemma_ssl import study

    assert study.main([f"--{flag}", value, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


TINY_TRAIN = ["--config", "tiny", *TINY_RUN, "--eval.linear", "false", "--eval.mismatch", "false"]


def test_same_seed_gives_bitwise_equal_weights(tmp_path: Path) -> None:
    """dilemma-train: --train.seed alone decides the weights, whatever the global RNG state was."""
    assert_seed_decides_weights(train_cli.main, TINY_TRAIN, "backbone.safetensors", tmp_path, seed=2, other_seed=3)


def test_kill_and_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    """dilemma-train killed at step 2 and started again ends bitwise where an uninterrupted run ends."""
    from dilemma_ssl.variants import MoCoV3DilemmaTask

    argv = [*TINY_TRAIN, "--train.max_steps", "4", "--train.ckpt_every", "1"]
    assert_kill_and_resume_is_exact(train_cli.main, argv, "backbone.safetensors", tmp_path, MoCoV3DilemmaTask, 2)


def test_demo_headline_shows_the_mismatch_auroc_beside_knn() -> None:
    from dilemma_ssl import demo

    h = demo.demo_headline({"knn_trained": 60.0, "knn_random": 40.0, "knn_pixels": 70.0, "md_auroc_trained": 0.73})
    assert h.trained == 60.0 and h.references == {"raw pixels": 70.0, demo.AUROC_REFERENCE: 0.73}
    assert "AUROC" in h.describe()
    # a stage without a detection head (NaN AUROC) shows no AUROC
    nan = demo.demo_headline({"knn_trained": 60.0, "knn_random": 40.0, "knn_pixels": 70.0,
                              "md_auroc_trained": float("nan")})
    assert nan.references == {"raw pixels": 70.0}


def test_demo_trains_the_study_backbone_on_fashion_mnist_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo stage picks Fashion-MNIST where the files are, the generated shapes elsewhere."""
    from dilemma_ssl import demo, study
    from sparse_core.config import parse_config

    monkeypatch.setattr(demo, "is_available", lambda: True)
    assert demo.demo_config() == "tiny_fashion_mnist"
    monkeypatch.setattr(demo, "is_available", lambda: False)
    assert demo.demo_config() == "tiny"
    cfg = parse_config(DilemmaRunConfig, ["--config", "tiny_fashion_mnist"], config_dir=CONFIG_DIR)
    ref = study.config("+DILEMMA (sum)", 10, Path("unused"), 64, 5000, pos_embed_type="sincos",
                       lr_schedule="constant")
    assert cfg.data.name == "fashion_mnist" and cfg.model == ref.model
    assert cfg.method == dataclasses.replace(ref.method, variant="simclr")  # SimCLR + DILEMMA, the study's schedule
    assert cfg.optim.min_lr == cfg.optim.lr == ref.optim.lr  # constant lr, as the study's constant schedule
