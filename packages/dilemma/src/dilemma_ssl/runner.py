"""Build and run a DILEMMA pre-training from a :class:`~dilemma_ssl.config.DilemmaRunConfig`; evaluate it."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from torch import nn

from dilemma_ssl import evaluate as ev
from dilemma_ssl.base import DilemmaTaskBase
from dilemma_ssl.config import CONFIG_DIR, DilemmaRunConfig
from dilemma_ssl.data import build_eval_datasets, build_pretrain_dataset
from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants import TASKS
from sparse_core.config import ConfigError
from sparse_core.engine import Trainer, load_checkpoint
from sparse_core.engine.seeding import seeded
from sparse_core.eval import run_protocol
from sparse_core.export import save_weights
from sparse_core.report import markdown_table

__all__ = ["CONFIG_DIR", "MASKED_DATASETS", "build_schedule", "build_task", "check_evaluation", "train",
           "evaluate_backbone", "total_steps"]

log = logging.getLogger("dilemma_ssl")

MASKED_DATASETS = ("shapes",)
"""The ``data.name`` values whose samples carry the per-pixel masks that ``eval.segmentation`` scores."""


def check_evaluation(cfg: DilemmaRunConfig) -> None:
    """Refuse, before any work, an evaluation the data cannot feed (e.g. segmentation without masks).

    Raises:
        ConfigError: ``eval.segmentation`` on a dataset without masks, naming the keys and the fix.
    """
    if cfg.eval.segmentation and cfg.data.name not in MASKED_DATASETS:
        raise ConfigError(
            f"eval.segmentation needs per-pixel masks, which data.name '{cfg.data.name}' does not have "
            f"(only {', '.join(MASKED_DATASETS)}): set --eval.segmentation false"
        )


def build_schedule(cfg: DilemmaRunConfig) -> SparsitySchedule:
    """The sparsity schedule of the run.

    MAE drops ``method.mae.mask_ratio`` every step; DINO uses constant sparsity on its large crops (sec. 3.2.2);
    the others draw from ``method.sparsity`` unless ``random_sparsity`` is False.
    """
    m, base, seed = cfg.method, cfg.train.batch_size, cfg.train.seed
    if m.variant == "mae":
        return SparsitySchedule.constant(base, m.mae.mask_ratio, 1, seed)
    if m.variant == "dino" or not m.random_sparsity:
        return SparsitySchedule.constant(base, m.constant_sparsity, m.constant_multiplier, seed)
    return SparsitySchedule.from_lists(base, m.sparsity, m.batch_multipliers, seed)


def build_task(cfg: DilemmaRunConfig, schedule: SparsitySchedule | None = None) -> DilemmaTaskBase:
    """The task of ``method.variant`` (MoCo v3, SimCLR, DINO or MAE) with its token objective."""
    return TASKS[cfg.method.variant](
        cfg.model, cfg.method, schedule or build_schedule(cfg), seed=cfg.train.seed
    )


def total_steps(cfg: DilemmaRunConfig, num_samples: int, schedule: SparsitySchedule) -> int:
    """Optimizer steps of the run: ``train.max_steps``, else ``epochs`` passes over the data at the schedule's
    mean batch size (so 100 epochs of +DILEMMA see as many images as 100 epochs of dense MoCo v3)."""
    if cfg.train.max_steps is not None:
        return cfg.train.max_steps
    return max(1, math.floor(cfg.train.epochs * num_samples / schedule.mean_batch_size()))


def train(cfg: DilemmaRunConfig, evaluate: bool = True) -> dict[str, Any]:
    """Pre-train, export the student backbone and (on the main process) run the final evaluation.

    Writes to ``train.out_dir``: config.yaml, checkpoints/, metrics.jsonl, tb/, loss.png (engine), then
    backbone.safetensors, eval.json and eval.md.

    Raises:
        ConfigError: before training, when the final evaluation could not run on this data.
    """
    if evaluate:
        check_evaluation(cfg)
    schedule = build_schedule(cfg)
    with seeded(cfg.train.seed):  # --train.seed covers the model's initialisation
        task = build_task(cfg, schedule)
    dataset = build_pretrain_dataset(cfg.data, cfg.model, cfg.method)
    train_cfg = dataclasses.replace(cfg.train, max_steps=total_steps(cfg, len(dataset), schedule))
    varies = schedule.random and len(set(schedule.multipliers)) > 1
    fixed = schedule.batch_size(0)
    if not varies and fixed != train_cfg.batch_size:
        train_cfg = dataclasses.replace(train_cfg, batch_size=fixed)
    trainer = Trainer(
        task,
        dataset,
        train_cfg,
        cfg.optim,
        batch_size_fn=schedule if varies else None,
        config=cfg,
        find_unused_parameters=True,
    )
    summary = trainer.fit()
    out = Path(cfg.train.out_dir)
    result: dict[str, Any] = {
        "train": {k: (str(v) if isinstance(v, Path) else v) for k, v in summary.items()}
    }
    if trainer.is_main:
        task = trainer.unwrapped  # type: ignore[assignment]
        weights = save_weights(
            task.backbone,
            out / "backbone.safetensors",
            metadata={
                "arch": cfg.model.arch,
                "method": cfg.method.variant,
                "objective": cfg.method.objective,
            },
        )
        result["weights"] = str(weights)
        if evaluate:
            result["eval"] = evaluate_backbone(task, cfg, schedule)
            write_eval(result["eval"], out, title=f"{cfg.method.variant} / {cfg.method.objective}")
    trainer.accelerator.wait_for_everyone()
    return result


def train_from_init(cfg: DilemmaRunConfig) -> tuple[DilemmaTaskBase, DilemmaTaskBase, dict[str, Any], float]:
    """Train without the final evaluation and return the task before and after, for before/after comparisons.

    The initial task is built under the same ``seeded(train.seed)`` as :func:`train` builds its own, so it holds
    the very weights the run starts from; the trained task is rebuilt from the run's last checkpoint.

    Returns:
        ``(initial_task, trained_task, train_summary, train_seconds)``.
    """
    with seeded(cfg.train.seed):
        initial = build_task(cfg)
    t0 = time.perf_counter()
    result = train(cfg, evaluate=False)
    seconds = time.perf_counter() - t0
    trained = build_task(cfg)
    trained.load_state_dict(load_checkpoint(result["train"]["checkpoint"])["task"])
    return initial, trained, result, seconds


def evaluate_backbone(
    task: DilemmaTaskBase, cfg: DilemmaRunConfig, schedule: SparsitySchedule | None = None
) -> dict[str, Any]:
    """Run the evaluations selected in ``cfg.eval`` on the student backbone of ``task``.

    Returns:
        flat dict: ``knn``, ``linear`` (Linear_F top-1), ``fewshot_<p>_{knn,linear}``, ``md_<m>_<s>``
        (mismatch detection at sparsity s, 0 = dense as Table 3.10, with m one of
        :data:`~dilemma_ssl.evaluate.MISMATCH_KEYS`: ``acc``, ``prior_acc``, ``auroc``, ``bce``, ``entropy``,
        ``bce_rel``, ``undetectable``, ``acc_detectable``, ``acc_bound``), ``attn_jaccard``, ``seg_miou``,
        ``seg_acc`` (percent).
    """
    check_evaluation(cfg)
    e = cfg.eval
    backbone: nn.Module = task.backbone
    schedule = schedule or build_schedule(cfg)
    train_ds, test_ds = build_eval_datasets(cfg.data, cfg.model)
    train_ds, test_ds = ev.subsample(train_ds, e.max_train_samples), ev.subsample(test_ds, e.max_test_samples)
    tr, te = ev.features(backbone, train_ds, e.batch_size), ev.features(backbone, test_ds, e.batch_size)
    res: dict[str, Any] = ev.protocol_metrics(run_protocol(*tr, *te, ev.protocol_config(e)))
    if e.mismatch and task.objective.kind in ("dilemma", "flip_detection"):
        for s in sorted(set(schedule.ratios) | {0.0}):
            md = ev.mismatch_metrics(backbone, task.objective, test_ds, s, e.batch_size)
            res.update({f"md_{k}_{s:g}": v for k, v in md.items()})
    if e.segmentation:
        res["attn_jaccard"] = ev.attention_jaccard(backbone, test_ds)
        seg = ev.segmentation_probe(backbone, train_ds, test_ds)
        res["seg_miou"], res["seg_acc"] = seg["miou"], seg["acc"]
    return res


def write_eval(res: dict[str, Any], out_dir: Path, title: str) -> Path:
    """Write ``eval.json`` and a Markdown table ``eval.md``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(res, indent=2))
    table = markdown_table([{"metric": k, "value": v} for k, v in res.items()], ["metric", "value"])
    path = out_dir / "eval.md"
    path.write_text(f"# Evaluation: {title}\n\n{table}\n")
    return path
