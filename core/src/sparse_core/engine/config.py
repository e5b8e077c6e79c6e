"""Dataclass configs of the training engine, shared by every package's top-level config."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TrainConfig", "OptimConfig"]

PRECISIONS = ("no", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Training loop: length, batch, precision, logging and checkpointing."""

    out_dir: str = "runs/default"
    """Output folder: resolved config, checkpoints/, metrics.jsonl, tb/ (TensorBoard), loss.png."""
    epochs: int = 1
    """Passes over the dataset (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Total optimizer steps; default epochs * (dataset size // batch_size)."""
    batch_size: int = 256
    """Global batch size per optimizer step, summed over processes and accumulation steps."""
    grad_accum: int = 1
    """Gradient accumulation steps per optimizer step."""
    num_workers: int = 0
    """DataLoader worker processes per process."""
    seed: int = 0
    """Seed of data order, augmentations and model randomness (each step is reseeded from it: exact resume)."""
    precision: str = "no"
    """Mixed precision: 'no', 'bf16' or 'fp16' (fp16 uses a gradient scaler)."""
    clip_grad: float | None = None
    """Clip the global gradient norm to this value (None: no clipping)."""
    log_every: int = 10
    """Write metrics to metrics.jsonl / TensorBoard every this many steps."""
    ckpt_every: int = 1000
    """Write a checkpoint every this many steps (and always at the end)."""
    keep_last: int = 3
    """Number of most recent checkpoints kept on disk."""
    resume: str = "auto"
    """'auto' (latest checkpoint in out_dir if any), 'none', or a checkpoint path."""
    deterministic: bool = False
    """Use deterministic algorithms (slower; needed for bit-exact resume on GPU)."""
    progress: bool = True
    """Show a progress bar with rate and ETA."""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {PRECISIONS}, got '{self.precision}'")
        for name in ("batch_size", "grad_accum", "log_every", "ckpt_every", "keep_last"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.epochs < 1 and self.max_steps is None:
            raise ValueError("train.epochs must be >= 1 (or set train.max_steps)")


@dataclass
class OptimConfig:
    """AdamW with warmup + cosine schedules (lr and weight decay) and optional layer-wise lr decay."""

    lr: float = 1.5e-4
    """Peak learning rate (before batch scaling if scale_lr)."""
    scale_lr: bool = False
    """Multiply lr by batch_size / 256 (linear scaling rule, as MoCo v3 and DINO)."""
    min_lr: float = 0.0
    """Final learning rate of the cosine schedule."""
    warmup_steps: int = 0
    """Linear warmup steps from 0 to lr."""
    weight_decay: float = 0.05
    """Initial weight decay (not applied to norms, biases, tokens and position embeddings)."""
    weight_decay_end: float | None = None
    """Final weight decay of a cosine schedule (None: constant)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    layer_decay: float = 1.0
    """Layer-wise lr decay (1.0: off); block i of L gets lr * layer_decay ** (L + 1 - i)."""
    fused: bool = field(default=False)
    """Use the fused AdamW kernel on CUDA."""
