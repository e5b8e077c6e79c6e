"""DILEMMA's suite place (``sparse_ssl.order`` -> :data:`POSITION`, the thesis order of
:mod:`sparse_core.suite`) and GPU-suite rows (``sparse_ssl.gpu`` -> :data:`ROWS`, :mod:`sparse_core.gpu_suite`).
The rows import the bench code when they run.
"""

from __future__ import annotations

from typing import Any

from sparse_core.gpu_suite import Row, RowContext

__all__ = ["POSITION", "ROWS"]

POSITION = 1  # core 0, dilemma 1, scale 2, river 3, vidrop 4, sfclip 5


def _dilemma(ctx: RowContext) -> dict[str, Any]:
    from dilemma_ssl.bench import epoch_time_ratio
    from dilemma_ssl.config import ModelConfig
    from dilemma_ssl.presets import small_vit

    if ctx.dry:
        res = epoch_time_ratio(small_vit(img_size=16, patch_size=8, depth=1), 2, ctx.device, repeats=1, warmup=1)
    else:
        res = epoch_time_ratio(ModelConfig(head_norm="bn"), 64, ctx.device, repeats=10)
    return {**res, "headline": {"epoch_time_ratio": res["epoch_time_ratio"]}}


def _sanity(ctx: RowContext) -> dict[str, Any]:
    from dilemma_ssl.bench import learning_sanity

    if ctx.dry:
        over = ["--train.max_steps", "2", "--train.batch_size", "4", "--data.num_samples", "32",
                "--data.num_eval_samples", "16", "--eval.max_train_samples", "32", "--eval.knn_k", "5",
                "--model.depth", "1",
                "--train.log_every", "1"]
    else:  # ViT-S width at 64 px, ~2 min of training on an H100/H200
        over = ["--model.embed_dim", "384", "--model.depth", "12", "--model.num_heads", "6",
                "--model.img_size", "64", "--model.patch_size", "8", "--data.image_size", "64",
                "--data.num_samples", "65536", "--data.num_eval_samples", "2048", "--eval.max_train_samples",
                "8192", "--train.batch_size", "128", "--train.max_steps", "600", "--train.precision", "bf16",
                "--train.num_workers", "12", "--train.log_every", "50"]
    res = learning_sanity(ctx.scratch / "dilemma_sanity", over)
    return {**res, "headline": {"knn_before": res["knn_before"], "knn_after": res["knn_after"]}}


ROWS: tuple[Row, ...] = (
    Row("dilemma_epoch_ratio", 60, _dilemma, "<= 0.60x (thesis 0.65x)"),
    Row("dilemma_learning_sanity", 120, _sanity, "k-NN after > before", phase=1),
)
"""The GPU-suite rows (they reuse the package's own bench functions)."""
