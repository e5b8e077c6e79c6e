"""Dataclass configs of the training engine, shared by every package's top-level config.

Every numeric field is range-checked when the dataclass is built (``__post_init__``, so also by
``dataclasses.replace`` and by ``parse_config`` before anything runs): a bad value raises
:class:`~sparse_core.config.ConfigError` naming the key, the valid range and the value given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ConfigError
from ..validation import bad_value as _bad
from ..validation import check_float as _check_float
from ..validation import check_int as _check_int
from .progress import check_progress

__all__ = ["TrainConfig", "OptimConfig"]

PRECISIONS = ("no", "bf16", "fp16")
LR_SCALING_RULES = ("linear", "sqrt")


@dataclass
class TrainConfig:
    """Training loop: length, batch, precision, logging and checkpointing."""

    out_dir: str = "runs/default"
    """Output folder: resolved config, checkpoints/, metrics.jsonl, tb/ (TensorBoard), loss.png."""
    epochs: int = 1
    """Passes over the dataset (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Total optimizer steps (>= 1); None: epochs * (dataset size // batch_size)."""
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
    """Clip the global gradient norm to this value (> 0; None: no clipping)."""
    log_every: int = 10
    """Write metrics to metrics.jsonl / TensorBoard every this many steps."""
    ckpt_every: int = 1000
    """Write a checkpoint every this many steps (and always at the end)."""
    keep_last: int = 3
    """Number of most recent checkpoints kept on disk."""
    resume: str = "auto"
    """'auto' (newest checkpoint of out_dir that loads, if any, under the same config), 'none', or a path."""
    deterministic: bool = False
    """Use deterministic algorithms (slower; needed for bit-exact resume on GPU)."""
    progress: bool | str = "auto"
    """'auto': a live bar with rate and ETA on a terminal, a line every ~5 % of the run with the ETA otherwise
    (logs, CI); True: the bar always; False: nothing (:mod:`~sparse_core.engine.progress`)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range values (see the field docs), naming the key and the valid range.

        Raises:
            ConfigError: the first bad field.
        """
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {PRECISIONS}, got '{self.precision}'")
        if not isinstance(self.out_dir, str) or not self.out_dir.strip():
            raise _bad("train.out_dir", "a non-empty path", self.out_dir)
        check_progress("train.progress", self.progress)
        if not isinstance(self.resume, str) or not self.resume.strip():
            raise _bad("train.resume", "'auto', 'none' or a checkpoint path", self.resume)
        for name in ("batch_size", "grad_accum", "log_every", "ckpt_every", "keep_last"):
            _check_int(f"train.{name}", getattr(self, name), 1)
        _check_int("train.num_workers", self.num_workers, 0)
        _check_int("train.seed", self.seed, 0)
        # max_steps None means "use epochs"; 0 or a negative number is refused (it used to mean epochs / 0 steps).
        _check_int("train.max_steps", self.max_steps, 1, optional=True)
        if self.max_steps is None:
            _check_int("train.epochs", self.epochs, 1)
        elif isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise _bad("train.epochs", "an integer >= 0 (ignored when train.max_steps is set)", self.epochs)
        _check_float("train.clip_grad", self.clip_grad, 0.0, strict=True, optional=True)


@dataclass
class OptimConfig:
    """AdamW with warmup + cosine schedules (lr and weight decay) and optional layer-wise lr decay."""

    lr: float = 1.5e-4
    """Peak learning rate (before batch scaling if scale_lr)."""
    scale_lr: bool = False
    """Scale lr with the global batch size by scale_lr_rule (default linear, batch_size / 256: MoCo v3, DINO)."""
    scale_lr_rule: str = "linear"
    """'linear': lr * batch_size / scale_lr_batch (MoCo v3, DINO); 'sqrt': lr * sqrt(batch_size / scale_lr_batch)
    (DINOv2's ``optim.scaling_rule: sqrt_wrt_1024``, dinov2/utils/config.py)."""
    scale_lr_batch: int = 256
    """Batch size at which lr is given, the reference of scale_lr_rule (MoCo v3 / DINO: 256, DINOv2: 1024)."""
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

    def __post_init__(self) -> None:
        """Refuse out-of-range values, naming the key and the valid range.

        Valid: ``lr > 0``, ``scale_lr_rule`` in ``LR_SCALING_RULES``, ``scale_lr_batch >= 1``,
        ``0 <= min_lr <= lr``, ``warmup_steps >= 0`` (a warmup longer than the run is allowed but warned
        about by the Trainer: short smoke runs of a shipped config do that),
        ``weight_decay >= 0``, ``weight_decay_end >= 0`` or None, ``0 <= betas < 1``, ``eps > 0``,
        ``0 < layer_decay <= 1``.

        Raises:
            ConfigError: the first bad field.
        """
        _check_float("optim.lr", self.lr, 0.0, strict=True)
        if self.scale_lr_rule not in LR_SCALING_RULES:
            raise ConfigError(f"optim.scale_lr_rule must be one of {LR_SCALING_RULES}, got {self.scale_lr_rule!r}")
        _check_int("optim.scale_lr_batch", self.scale_lr_batch, 1)
        _check_float("optim.min_lr", self.min_lr, 0.0, strict=False, high=float(self.lr))
        _check_int("optim.warmup_steps", self.warmup_steps, 0)
        _check_float("optim.weight_decay", self.weight_decay, 0.0, strict=False)
        _check_float("optim.weight_decay_end", self.weight_decay_end, 0.0, strict=False, optional=True)
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise _bad("optim.betas", "a pair (beta1, beta2)", self.betas)
        for i, beta in enumerate(self.betas):
            _check_float(f"optim.betas[{i}]", beta, 0.0, strict=False, high=1.0, high_strict=True)
        _check_float("optim.eps", self.eps, 0.0, strict=True)
        _check_float("optim.layer_decay", self.layer_decay, 0.0, strict=True, high=1.0)
