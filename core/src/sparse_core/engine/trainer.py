"""The training loop on accelerate: one CPU, one GPU, many GPUs and nodes through ``accelerate launch``.

The loop owns batching, mixed precision, gradient accumulation and clipping, schedules, logging and
checkpoints; each package owns its :class:`~sparse_core.engine.task.Task` (the training step).
Exact resume: model, optimizer, scaler, step and data-stream position are checkpointed; the data order,
per-sample augmentation seeds and the global RNG of every step are pure functions of ``(seed, step)``; the
schedules are pure functions of the step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..config import save_config
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import OptimConfig, TrainConfig
from .metrics import MetricLogger, plot_metrics
from .optim import build_optimizer, clip_grad_groups
from .randomness import mix_seed, stream_id
from .sampler import SeededDataset, StepBatchSampler, StreamState, advance
from .schedules import cosine_schedule
from .task import Task

__all__ = ["Trainer", "NonFiniteLossError", "move_to_device", "step_seed"]

log = logging.getLogger("sparse_core.engine")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint."""


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of the global torch RNG at the start of optimizer step ``step`` on process ``rank``.

    For what a method does not draw from ``Task.generator`` (dropout, drop-path): per process, so it is not
    shared between processes the way :mod:`~sparse_core.engine.randomness` draws are.
    """
    return mix_seed(seed, step, rank, stream_id("global"))


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Recursively move tensors in dicts / lists / tuples to ``device`` (non-blocking)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


def _default_collate(samples: Sequence[Any]) -> Any:
    from ..data.collate import collate_skip_none

    return collate_skip_none(samples)


def _is_empty(batch: Any) -> bool:
    if batch is None:
        return True
    return isinstance(batch, Mapping) and not (set(batch) - {"num_skipped"})


def _allow_new_precision(precision: str) -> None:
    """accelerate keeps one process-wide state; let a later Trainer in the same process (a demo running
    several stages, a test suite) use another precision. The distributed state (PartialState) is kept."""
    from accelerate.state import AcceleratorState

    shared = AcceleratorState._shared_state
    if shared and shared.get("_mixed_precision", precision) != precision:
        AcceleratorState._reset_state(reset_partial_state=False)


class Trainer:
    """Runs ``task`` over ``dataset`` for ``train.max_steps`` optimizer steps.

    Args:
        task: the method; its ``forward(batch, step)`` defaults to ``training_step``.
        dataset: map-style dataset of dict samples (``None`` for a corrupt sample).
        train / optim: engine configs.
        collate_fn: list of samples -> batch (default ``sparse_core.data.collate.collate_skip_none``).
        batch_size_fn: optional ``step -> global batch size`` (DILEMMA's random sparsity schedule).
        config: the package's full config dataclass, saved as ``out_dir/config.yaml``.
        find_unused_parameters: True turns DDP's search for unused parameters on for the whole run; None or
            False (default) ask ``task.find_unused_parameters(step)`` and turn it on only on those steps
            (DDP is re-wrapped when the answer changes).

    Before the optimizer is built the Trainer sets ``task.seed`` / ``task.accum`` and calls
    ``task.setup(total_steps)``; the optimizer follows ``task.param_groups()``.
    """

    def __init__(self, task: Task, dataset: Dataset, train: TrainConfig, optim: OptimConfig,
                 collate_fn: Callable[[Sequence[Any]], Any] | None = None,
                 batch_size_fn: Callable[[int], int] | None = None, config: Any = None,
                 find_unused_parameters: bool | None = None) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.train_cfg, self.optim_cfg = train, optim
        _allow_new_precision(train.precision)
        self.accelerator = Accelerator(
            mixed_precision=train.precision,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=bool(find_unused_parameters))])
        self._find_unused_always = bool(find_unused_parameters)
        if train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.out_dir = Path(train.out_dir)
        self.ckpt_dir = self.out_dir / "checkpoints"
        self.dataset = dataset
        self.num_samples = len(dataset)  # type: ignore[arg-type]
        if self.num_samples == 0:
            raise ValueError("the training dataset is empty")
        self.batch_size_fn = batch_size_fn
        base_batch = batch_size_fn(0) if batch_size_fn is not None else train.batch_size
        if base_batch > self.num_samples:
            raise ValueError(f"train.batch_size={base_batch} is larger than the dataset ({self.num_samples})")
        self.total_steps = train.max_steps or train.epochs * (self.num_samples // train.batch_size)
        self.collate_fn = collate_fn or _default_collate
        self.config = config
        self.base_lr = optim.lr * (train.batch_size / 256 if optim.scale_lr else 1.0)
        task.seed, task.accum = train.seed, train.grad_accum  # the owner of per-step randomness (Task.generator)
        task.setup(self.total_steps)
        optimizer = build_optimizer(task, optim, self.base_lr)
        self.task, self.optimizer = self.accelerator.prepare(task, optimizer)
        self.step, self.stream = 0, StreamState()
        self.num_skipped = 0
        self.last_checkpoint: Path | None = None
        self.logger = MetricLogger(self.out_dir, enabled=self.is_main)
        self._maybe_resume()

    # ------------------------------------------------------------------ properties
    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def unwrapped(self) -> Task:
        return self.accelerator.unwrap_model(self.task)

    def lr_at(self, step: int) -> float:
        o = self.optim_cfg
        return cosine_schedule(step, self.total_steps, self.base_lr, o.min_lr, o.warmup_steps)

    def wd_at(self, step: int) -> float:
        o = self.optim_cfg
        end = o.weight_decay if o.weight_decay_end is None else o.weight_decay_end
        return cosine_schedule(step, self.total_steps, o.weight_decay, end)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        scaler = self.accelerator.scaler
        return {
            "task": self.unwrapped.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else {},
            "step": self.step,
            "stream": {"epoch": self.stream.epoch, "cursor": self.stream.cursor},
            "num_skipped": self.num_skipped,
            "rng": {"torch": torch.get_rng_state()},
        }

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (main process) and wait for all processes."""
        path = None
        if self.is_main:
            path = save_checkpoint(self.state_dict(), self.ckpt_dir, self.step, self.train_cfg.keep_last)
            self.last_checkpoint = path
        self.accelerator.wait_for_everyone()
        return path

    def load(self, path: str | Path) -> None:
        state = load_checkpoint(path)
        self.unwrapped.load_state_dict(state["task"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.accelerator.scaler is not None and state.get("scaler"):
            self.accelerator.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.stream = StreamState(**state["stream"])
        self.num_skipped = int(state.get("num_skipped", 0))
        torch.set_rng_state(state["rng"]["torch"])
        self.last_checkpoint = Path(path)

    def _maybe_resume(self) -> None:
        resume = self.train_cfg.resume
        if resume == "none":
            return
        path = latest_checkpoint(self.ckpt_dir) if resume == "auto" else Path(resume)
        if path is None:
            return
        if not path.is_file():
            raise FileNotFoundError(f"train.resume={resume!r}: no checkpoint at {path}")
        self.load(path)
        if self.is_main:
            log.info("resumed from %s at step %d", path, self.step)

    # ------------------------------------------------------------------ loop
    def _loader(self) -> DataLoader:
        sampler = StepBatchSampler(
            self.num_samples, self.train_cfg.batch_size, self.total_steps, seed=self.train_cfg.seed,
            rank=self.accelerator.process_index, world_size=self.accelerator.num_processes,
            grad_accum=self.train_cfg.grad_accum, start_step=self.step, start_state=self.stream,
            batch_size_fn=self.batch_size_fn)
        self._sampler = sampler
        workers = self.train_cfg.num_workers
        return DataLoader(SeededDataset(self.dataset), batch_sampler=sampler, collate_fn=self.collate_fn,
                          num_workers=workers, pin_memory=torch.cuda.is_available(),
                          persistent_workers=False, prefetch_factor=2 if workers > 0 else None)

    def _set_schedules(self, step: int) -> float:
        lr, wd = self.lr_at(step), self.wd_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
            if group.get("apply_wd", True):
                group["weight_decay"] = wd
        return lr

    def _sync_unused_search(self, step: int) -> None:
        """Re-wrap DDP when ``task.find_unused_parameters(step)`` changes (a collective: every process
        re-wraps at the same step, since the answer is a function of the step)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        old = self.task
        if self._find_unused_always or not isinstance(old, DDP):
            return
        want = bool(self.unwrapped.find_unused_parameters(step))
        if want == old.find_unused_parameters:
            return
        new = DDP(old.module, device_ids=old.device_ids, output_device=old.output_device,
                  broadcast_buffers=old.broadcast_buffers, find_unused_parameters=want,
                  bucket_cap_mb=old.bucket_bytes_cap / 2**20, gradient_as_bucket_view=old.gradient_as_bucket_view)
        models = self.accelerator._models
        models[:] = [new if m is old else m for m in models]  # drop the old wrapper (and its gradient hooks)
        self.task = new

    def _clip(self) -> dict[str, float]:
        """Clip gradient norms (``train.clip_grad`` and the task's group norms); returns the norms."""
        clip = self.train_cfg.clip_grad
        if clip is None and all(g.get("clip_grad") is None for g in self.optimizer.param_groups):
            return {}
        self.accelerator.unscale_gradients()
        return clip_grad_groups(self.optimizer, clip)

    def _check_finite(self, loss: torch.Tensor) -> None:
        bad = torch.tensor(0.0 if torch.isfinite(loss.detach()).all() else 1.0, device=loss.device)
        if self.accelerator.num_processes > 1:
            bad = self.accelerator.reduce(bad, reduction="sum")
        if bad.item() > 0:
            raise NonFiniteLossError(
                f"non-finite loss ({loss.item()}) at step {self.step}; training stopped. Last good checkpoint: "
                f"{self.last_checkpoint or latest_checkpoint(self.ckpt_dir) or 'none written yet'}")

    def fit(self) -> dict[str, Any]:
        """Train to ``total_steps``; returns a summary dict (steps, final metrics, checkpoint, time)."""
        from tqdm.auto import tqdm

        cfg = self.train_cfg
        if self.is_main and self.config is not None:
            save_config(self.config, self.out_dir / "config.yaml")
        accum = cfg.grad_accum
        loader = self._loader()
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (self.is_main and cfg.progress),
                   unit="step", dynamic_ncols=True, desc=self.out_dir.name)
        self.task.train()
        t0 = time.perf_counter()
        last: dict[str, float] = {}
        sums: dict[str, float] = {}
        micro, step_skipped, lr = 0, 0, 0.0
        for batch in loader:
            if micro == 0:
                self._sync_unused_search(self.step)
                torch.manual_seed(step_seed(cfg.seed, self.step, self.accelerator.process_index))
                lr = self._set_schedules(self.step)
                sums, step_skipped = {}, 0
            if isinstance(batch, Mapping):
                step_skipped += int(batch.get("num_skipped", 0))
            micro += 1
            sync = micro == accum
            if not _is_empty(batch):
                batch = move_to_device(batch, self.accelerator.device)
                ctx = self.accelerator.no_sync(self.task) if (not sync and accum > 1) else _nullcontext()
                with ctx, self.accelerator.autocast():
                    out = self.task(batch, self.step, micro - 1)
                    if "loss" not in out:
                        raise KeyError("Task.training_step must return a dict with a 'loss' entry")
                    self._check_finite(out["loss"])
                    self.accelerator.backward(out["loss"] / accum)
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach().float()) / accum
            if not sync:
                continue
            micro = 0
            if self.accelerator.sync_gradients:
                sums.update(self._clip())
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.unwrapped.on_after_step(self.step, self.total_steps)
            b = self._sampler.global_batch(self.step)
            self.stream, _, _ = advance(self.stream, b, self.num_samples)
            self.num_skipped += step_skipped
            self.step += 1
            last = {**sums, "lr": lr, "epoch": self.stream.epoch, "skipped_total": self.num_skipped}
            bar.update(1)
            bar.set_postfix(loss=f"{sums.get('loss', float('nan')):.4f}", lr=f"{lr:.2e}", refresh=False)
            if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                self.logger.log(self.step, last)
            if self.step % cfg.ckpt_every == 0 and self.step < self.total_steps:
                self.save()
        bar.close()
        if self.last_checkpoint is None or not self.last_checkpoint.name.endswith(f"{self.step:08d}.pt"):
            self.save()
        self.logger.close()
        loss_png = None
        if self.is_main:
            loss_png = plot_metrics(self.out_dir / "metrics.jsonl", self.out_dir / "loss.png")
            if self.num_skipped:
                log.warning("%d corrupt or unreadable samples were skipped", self.num_skipped)
        return {"steps": self.step, "metrics": last, "checkpoint": self.last_checkpoint,
                "loss_png": loss_png, "num_skipped": self.num_skipped, "time_s": time.perf_counter() - t0}


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
