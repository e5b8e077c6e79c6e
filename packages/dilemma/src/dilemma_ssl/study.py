"""Small Fashion-MNIST study: dense MoCo v3 vs +Sparsity vs +DILEMMA at equal steps and at equal wall-clock.

Not a test. Needs the Debian package ``dataset-fashion-mnist`` (or ``$SPARSE_SSL_FASHION_MNIST``). Writes
``<out>/study.md`` and ``<out>/study.json`` (and the runs under ``--out``); ``--doc packages/dilemma/docs/study.md``
also refreshes the package's documentation page::

    python -m dilemma_ssl.study --steps 300 --seeds [0,1,2] --out runs/dilemma-study

The sparse runs of the equal-time rows train until they have used the dense run's wall-clock time. Tables
report mean ± std over the seeds (built on :func:`sparse_core.suite.study_main`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dilemma_ssl import evaluate as ev
from dilemma_ssl.config import DataConfig, DilemmaRunConfig, EvalConfig, MethodConfig
from dilemma_ssl.data import build_eval_datasets
from dilemma_ssl.presets import small_vit
from dilemma_ssl.runner import build_task, train
from sparse_core.engine import OptimConfig, TrainConfig
from sparse_core.report import markdown_table, seed_mean, seed_summary
from sparse_core.suite import StageResult, StudyConfig, study_main

__all__ = ["METHODS", "DilemmaStudyConfig", "config", "main", "run_one", "scores", "study"]

METHODS = {
    "MoCo v3 (dense)": dict(objective="none", lambda_dilemma=0.0, sparsity=[0.0], batch_multipliers=[1]),
    "+Sparsity": dict(objective="none", lambda_dilemma=0.0),
    "+DILEMMA": dict(objective="dilemma"),
}


def config(name: str, steps: int, out: Path, base_batch: int, train_samples: int, seed: int = 0) -> DilemmaRunConfig:
    """A small-ViT config on 28 px Fashion-MNIST (patch 4: 7 x 7 tokens), training seed ``seed``."""
    return DilemmaRunConfig(
        model=small_vit(img_size=28, patch_size=4),
        method=MethodConfig(**METHODS[name]),  # type: ignore[arg-type]
        data=DataConfig(name="fashion_mnist", min_scale=0.3, augment="light"),
        eval=EvalConfig(linear_epochs=30, max_train_samples=train_samples, max_test_samples=2000),
        train=TrainConfig(
            out_dir=str(out),
            max_steps=steps,
            batch_size=base_batch,
            progress=False,
            log_every=25,
            resume="none",
            seed=seed,
        ),
        optim=OptimConfig(lr=1e-3, warmup_steps=max(1, steps // 10), weight_decay=0.1, min_lr=1e-5),
    )


def scores(task: torch.nn.Module, cfg: DilemmaRunConfig) -> dict[str, float]:
    """k-NN, Linear_F and mismatch-detection accuracy at 55 % sparsity of a task's backbone (CLS features)."""
    task.eval()
    tr_ds, te_ds = build_eval_datasets(cfg.data, cfg.model)
    tr_ds = ev.subsample(tr_ds, cfg.eval.max_train_samples)
    te_ds = ev.subsample(te_ds, cfg.eval.max_test_samples)
    tr, te = ev.features(task.backbone, tr_ds), ev.features(task.backbone, te_ds)
    return {
        "knn": ev.knn_eval(tr, te),
        "linear": ev.linear_f(tr, te, epochs=cfg.eval.linear_epochs)["top1"],
        "md_acc": ev.mismatch_accuracy(task.backbone, task.objective, te_ds, 0.55),
    }


def random_init(cfg: DilemmaRunConfig) -> dict[str, float]:
    """The untrained baseline: the same architecture at the runs' initialisation (seed of ``cfg``)."""
    torch.manual_seed(cfg.train.seed)
    return {"steps": 0, "train_s": 0.0, **scores(build_task(cfg), cfg)}


def run_one(cfg: DilemmaRunConfig) -> dict[str, float]:
    """Train (timed), then :func:`scores`."""
    t0 = time.perf_counter()
    res = train(cfg, evaluate=False)
    seconds = time.perf_counter() - t0
    task = build_task(cfg)
    task.load_state_dict(torch.load(res["train"]["checkpoint"], map_location="cpu", weights_only=True)["task"])
    return {"steps": res["train"]["steps"], "train_s": seconds, **scores(task, cfg)}


@dataclass
class DilemmaStudyConfig(StudyConfig):
    """python -m dilemma_ssl.study: dense MoCo v3 vs +Sparsity vs +DILEMMA on Fashion-MNIST."""

    out: str = "runs/dilemma-study"
    """Output folder: study.md, study.json and one run folder per (seed, method)."""
    steps: int = 300
    """Training steps of the equal-steps rows."""
    batch: int = 32
    """Base batch size."""
    train_samples: int = 5000
    """k-NN / linear training subset."""


def _one_seed(cfg: DilemmaStudyConfig, seed: int, steps: int, train_samples: int) -> list[dict[str, Any]]:
    """The rows of the table for one training seed (random init, equal steps, equal time)."""
    out = Path(cfg.out) / f"seed{seed}"
    rows: list[dict[str, Any]] = [
        {
            "method": "random init (no training)",
            "budget": "-",
            **random_init(config("+DILEMMA", steps, out / "random", cfg.batch, train_samples, seed)),
        }
    ]
    for name in METHODS:
        r = run_one(config(name, steps, out / name.replace(" ", "_"), cfg.batch, train_samples, seed))
        rows.append({"method": name, "budget": "equal steps", **r})
        print(rows[-1], flush=True)
    dense_s = rows[1]["train_s"]
    for row in rows[2:4]:
        # equal wall-clock: the sparse run gets the number of steps that fits in the dense run's time
        # (fewer when a sparse step, with its larger batch and dense teacher, costs more than a dense one)
        n = max(1, round(row["steps"] * dense_s / row["train_s"]))
        name = row["method"]
        r = run_one(config(name, n, out / (name.replace(" ", "_") + "_time"), cfg.batch, train_samples, seed))
        rows.append({"method": name + " ↑", "budget": "equal time", **r})
        print(rows[-1], flush=True)
    return rows


def study(cfg: DilemmaStudyConfig) -> StageResult:
    """Every seed's five trainings and the Markdown table (mean ± std over seeds)."""
    t_start = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    steps, train_samples = (20, 500) if cfg.quick else (cfg.steps, cfg.train_samples)
    per_seed = [_one_seed(cfg, seed, steps, train_samples) for seed in cfg.seeds]
    merged = seed_summary(per_seed, key=["method", "budget"])
    sizes = "--quick true" if cfg.quick else f"--steps {steps} --train_samples {train_samples}"
    table = markdown_table(merged, ["method", "budget", "steps", "train_s", "knn", "linear", "md_acc", "seeds"])
    summary = (
        "# DILEMMA on Fashion-MNIST: a small study\n\n"
        f"Small ViT (4 blocks, width 96, 28 px, patch 4: 49 tokens), base batch {cfg.batch}, {steps} steps, "
        "light augmentation (crop, flip, colour jitter without hue, grayscale, solarize), AdamW lr 1e-3. "
        "+Sparsity and +DILEMMA use the random schedule (0/40/55/65 % dropped, batch x1/x2/x3/x4). "
        f"k-NN (k=20) and Linear_F on frozen CLS features ({train_samples} train / 2000 test images), "
        "mismatch-detection accuracy (md_acc, %) of the DILEMMA head at 55 % sparsity "
        "(theta = 0.2, so 80 % is "
        "the all-'correct' baseline). train_s is wall-clock on the machine that ran it (a shared 2-core CPU "
        "when this file was written), so the time columns are indicative only. "
        f"Mean ± std over training seeds {cfg.seeds}.\n\n"
        f"{table}\n\nGenerated by `python -m dilemma_ssl.study {sizes} --batch {cfg.batch} "
        f"--seeds {list(cfg.seeds)}` in {time.perf_counter() - t_start:.0f} s in all.\n"
    )
    headline = {"knn_dense": seed_mean(per_seed, "knn", method="MoCo v3 (dense)"),
                "knn_dilemma": seed_mean(per_seed, "knn", method="+DILEMMA"),
                "knn_sparsity": seed_mean(per_seed, "knn", method="+Sparsity"),
                "knn_random": seed_mean(per_seed, "knn", method="random init (no training)"),
                "md_acc_dilemma": seed_mean(per_seed, "md_acc", method="+DILEMMA")}
    return StageResult(metrics=headline, summary=summary, details={"per_seed": per_seed})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dilemma_ssl.study``: 0 on success, 2 on a config error (e.g. Fashion-MNIST not found)."""
    return study_main(DilemmaStudyConfig, study, argv, "dilemma_ssl")


if __name__ == "__main__":
    raise SystemExit(main())
