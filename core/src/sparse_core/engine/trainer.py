"""The training loop on accelerate: one CPU, one GPU, many GPUs and nodes through ``accelerate launch``.

The loop owns batching, mixed precision, gradient accumulation and clipping, schedules, logging and
checkpoints; each package owns its :class:`~sparse_core.engine.task.Task` (the training step).
Exact resume: model, optimizer, scaler, step and data-stream position are checkpointed; the data order,
per-sample augmentation seeds and the global RNG of every step are pure functions of ``(seed, step)``; the
schedules are pure functions of the step.

Before anything is trained or written the Trainer checks what the whole run will need (the resolved number
of steps, the largest batch of a ``batch_size_fn`` schedule), removes temporary files left in ``out_dir`` by
an interrupted write, and on auto-resume picks the newest checkpoint that loads (a damaged one is renamed
``*.damaged`` with a warning, never deleted) and refuses one written under a different config
(:mod:`~sparse_core.engine.resume`). A non-finite loss stops the run naming the last checkpoint written
before the loss began to blow up (:mod:`~sparse_core.engine.divergence`).

Accelerate is used through its public API only (checked on the versions ``nox -s accelerate_range`` installs):
one ``Accelerator`` per run, DDP options through a ``DistributedDataParallelKwargs`` handler, the run's
references released with ``Accelerator.free_memory()`` at the end of :meth:`Trainer.fit`. The mixed precision
is the run's own (:mod:`~sparse_core.engine.precision`), not accelerate's process-wide one, so runs of
different precisions can follow each other in one process.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from ..config import ConfigError, save_config
from ..data.errors import DatasetError
from ..data.probe import probe_dataset
from .checkpoint import (
    CheckpointError,
    checkpoint_step,
    list_checkpoints,
    load_engine_checkpoint,
    load_latest_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)
from .config import OptimConfig, TrainConfig
from .divergence import DivergenceWatch
from .metrics import MetricLogger, plot_metrics
from .optim import build_optimizer, clip_grad_groups, scaled_lr
from .precision import RunPrecision
from .progress import Progress
from .randomness import mix_seed, stream_id
from .resume import check_resume_config, resolved_config
from .sampler import SeededDataset, StepBatchSampler, StreamState, advance, check_run_batches
from .schedules import cosine_schedule
from .skipped import IndexedDataset, SkipLog, TrackSkipped
from .task import Task

__all__ = ["Trainer", "NonFiniteLossError", "move_to_device", "step_seed"]

log = logging.getLogger("sparse_core.engine")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite.

    The message names the step, where the blow-up began and the last checkpoint written before it.
    """


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


def _warn_launcher_precision(precision: str) -> None:
    """``accelerate launch --mixed_precision X`` does not set the run's precision: ``train.precision`` does."""
    launched = os.environ.get("ACCELERATE_MIXED_PRECISION")
    if launched and launched.lower() != precision:
        log.warning("accelerate launch --mixed_precision %s is ignored: this run uses train.precision=%s "
                    "(set --train.precision)", launched, precision)


class Trainer:
    """Runs ``task`` over ``dataset`` for ``train.max_steps`` optimizer steps.

    Args:
        task: the method; its ``forward(batch, step)`` defaults to ``training_step``.
        dataset: map-style dataset of dict samples (``None`` for a corrupt sample).
        train: engine run config (steps, batch, precision, seed, checkpoints, ``out_dir``).
        optim: optimizer and lr / weight-decay schedule config.
        collate_fn: list of samples -> batch (default ``sparse_core.data.collate.collate_skip_none``).
        batch_size_fn: optional ``step -> global batch size`` (DILEMMA's random sparsity schedule).
        config: the package's full config dataclass, saved as ``out_dir/config.yaml``.
        find_unused_parameters: True turns DDP's search for unused parameters on for the whole run; None or
            False (default) ask ``task.find_unused_parameters(step)`` and turn it on only on those steps
            (DDP is re-wrapped when the answer changes).
        safe_resume_keys: dotted keys (or group prefixes) of ``config`` that may change on resume besides
            :data:`~sparse_core.engine.resume.SAFE_ON_RESUME` (e.g. an initial checkpoint the resumed state
            replaces).

    Before the optimizer is built the Trainer sets ``task.seed`` / ``task.accum`` and calls
    ``task.setup(total_steps)``; the optimizer follows ``task.param_groups()``.

    Raises:
        ConfigError: (before any training or writing) a run of fewer than 1 step, a batch of the run larger
            than the dataset, a checkpoint past the run's end, a resume under a different config
            (:class:`~sparse_core.engine.resume.ResumeConfigError`), or a checkpoint that cannot be used
            (:class:`~sparse_core.engine.checkpoint.CheckpointError`).
        ValueError: an empty dataset.
    """

    def __init__(self, task: Task, dataset: Dataset, train: TrainConfig, optim: OptimConfig,
                 collate_fn: Callable[[Sequence[Any]], Any] | None = None,
                 batch_size_fn: Callable[[int], int] | None = None, config: Any = None,
                 find_unused_parameters: bool | None = None, safe_resume_keys: Sequence[str] = ()) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.train_cfg, self.optim_cfg = train, optim
        _warn_launcher_precision(train.precision)
        # DDP's options: accelerate reads this handler whenever it wraps the task (see _sync_unused_search)
        self._ddp_kwargs = DistributedDataParallelKwargs(find_unused_parameters=bool(find_unused_parameters))
        self.accelerator = Accelerator(mixed_precision="no", kwargs_handlers=[self._ddp_kwargs])
        self.precision = RunPrecision(train.precision, self.accelerator.device)
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
        if batch_size_fn is None and train.batch_size > self.num_samples:
            raise ConfigError(f"train.batch_size={train.batch_size} is larger than the dataset "
                              f"({self.num_samples} samples)")
        self.total_steps = (train.max_steps if train.max_steps is not None
                            else train.epochs * (self.num_samples // train.batch_size))
        if self.total_steps < 1:
            raise ConfigError(f"the run has {self.total_steps} optimizer steps (train.max_steps="
                              f"{train.max_steps}, train.epochs={train.epochs}); it needs at least 1")
        check_run_batches(self.num_samples, self.total_steps, train.batch_size, batch_size_fn,
                          self.accelerator.num_processes * train.grad_accum)
        if optim.warmup_steps > self.total_steps:
            log.warning("optim.warmup_steps=%d is longer than the run (%d steps): the lr never reaches optim.lr",
                        optim.warmup_steps, self.total_steps)
        self.collate_fn = collate_fn or _default_collate
        self.config = config
        self.safe_resume_keys = tuple(safe_resume_keys)
        self.step, self.stream = 0, StreamState()
        self.skips = SkipLog(dataset)
        self.watch = DivergenceWatch()
        self.last_checkpoint: Path | None = None
        if self.is_main:
            remove_stale_temp_files(self.out_dir, self.ckpt_dir)
        resume = self._find_resume()  # refuses a damaged checkpoint or another config before anything is written
        self.base_lr = scaled_lr(optim, train.batch_size)
        task.seed, task.accum = train.seed, train.grad_accum  # the owner of per-step randomness (Task.generator)
        task.setup(self.total_steps)
        optimizer = build_optimizer(task, optim, self.base_lr)
        start = int(resume[1]["step"]) if resume is not None else 0
        self._ddp_kwargs.find_unused_parameters = self._find_unused_always or bool(
            task.find_unused_parameters(start))
        self._torch_optimizer = optimizer
        self.task, self.optimizer = self.accelerator.prepare(task, optimizer)
        self.logger = MetricLogger(self.out_dir, enabled=self.is_main)
        if resume is not None:
            self._apply(*resume)
            if self.is_main:
                log.info("resumed from %s at step %d", resume[0], self.step)

    # ------------------------------------------------------------------ properties
    @property
    def is_main(self) -> bool:
        """Whether this is the main process (the one that writes metrics, checkpoints and the config)."""
        return self.accelerator.is_main_process

    @property
    def unwrapped(self) -> Task:
        """The task without its DDP / accelerate wrapper."""
        return self.accelerator.unwrap_model(self.task)

    def lr_at(self, step: int) -> float:
        """Base learning rate of ``step``: linear warmup over ``optim.warmup_steps``, then cosine to ``min_lr``.

        Args:
            step: optimizer step.

        Returns:
            the lr before each group's ``lr_scale`` (``optim.lr``, scaled by ``batch_size / 256`` when
            ``optim.scale_lr``, at the end of the warmup).
        """
        o = self.optim_cfg
        return cosine_schedule(step, self.total_steps, self.base_lr, o.min_lr, o.warmup_steps)

    def wd_at(self, step: int) -> float:
        """Weight decay of ``step``: cosine from ``optim.weight_decay`` to ``optim.weight_decay_end``.

        Args:
            step: optimizer step.

        Returns:
            the weight decay of the groups that apply one (constant when ``weight_decay_end`` is None).
        """
        o = self.optim_cfg
        end = o.weight_decay if o.weight_decay_end is None else o.weight_decay_end
        return cosine_schedule(step, self.total_steps, o.weight_decay, end)

    @property
    def num_skipped(self) -> int:
        """Distinct samples skipped so far by this process (all processes: ``fit()``'s ``num_skipped``)."""
        return len(self.skips)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self, skips: SkipLog | None = None) -> dict[str, Any]:
        """Everything an exact resume needs (``skips``: the log of every process, default this one's)."""
        skips = self.skips if skips is None else skips
        state = {
            "task": self.unwrapped.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.precision.state_dict(),
            "step": self.step,
            "stream": {"epoch": self.stream.epoch, "cursor": self.stream.cursor},
            "num_skipped": len(skips),
            "skipped": skips.state_dict(),
            "divergence": self.watch.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
        }
        if self.config is not None:
            state["config"] = resolved_config(self.config)
        return state

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (main process) and wait for all processes.

        While the loss is blowing up, the last checkpoint from before the blow-up is kept beyond
        ``train.keep_last`` (it is the one the error message names).
        """
        skips = self._global_skips()
        path = None
        if self.is_main:
            keep = self._checkpoint_before(self.watch.onset.step) if self.watch.onset is not None else None
            path = save_checkpoint(self.state_dict(skips), self.ckpt_dir, self.step, self.train_cfg.keep_last,
                                   protect=[keep] if keep is not None else ())
            self.last_checkpoint = path
        self.accelerator.wait_for_everyone()
        return path

    def load(self, path: str | Path) -> None:
        """Restore the checkpoint at ``path`` (see :meth:`state_dict`)."""
        self._apply(Path(path), load_engine_checkpoint(path))

    def _apply(self, path: Path, state: dict[str, Any]) -> None:
        self._check_fits(path, state["task"])
        self.unwrapped.load_state_dict(state["task"])
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as err:
            raise CheckpointError(f"{path} does not fit this run's optimizer ({err})") from None
        self.precision.load_state_dict(state.get("scaler") or {})
        self.step = int(state["step"])
        if self.step > self.total_steps:
            raise ConfigError(f"{path} is at step {self.step}, past the end of this run ({self.total_steps} "
                              "steps): raise train.max_steps / train.epochs, or use --train.resume none")
        self.stream = StreamState(**state["stream"])
        self.skips = SkipLog(self.dataset)
        if self.accelerator.process_index == 0:  # the saved log is every process' union: count it once
            self.skips.load_state_dict(state.get("skipped", {}))
        self.watch.load_state_dict(state.get("divergence", {}))
        torch.set_rng_state(state["rng"]["torch"])
        self.last_checkpoint = Path(path)

    def _check_fits(self, path: Path, saved: Mapping[str, Any]) -> None:
        """One-line refusal of a checkpoint of another architecture (instead of load_state_dict's traceback)."""
        own = self.unwrapped.state_dict()
        missing = [k for k in own if k not in saved]
        unexpected = [k for k in saved if k not in own]
        shapes = [f"{k} {tuple(saved[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                  if k in saved and hasattr(v, "shape") and hasattr(saved[k], "shape") and saved[k].shape != v.shape]
        if missing or unexpected or shapes:
            parts = [f"{label} {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
                     for label, keys in (("missing", missing), ("unexpected", unexpected),
                                         ("shape differs:", shapes)) if keys]
            raise CheckpointError(f"{path} does not fit this model (another architecture?): {'; '.join(parts)}")

    def _find_resume(self) -> tuple[Path, dict[str, Any]] | None:
        """The checkpoint to resume and its state (``train.resume``), checked against the new config."""
        resume = self.train_cfg.resume
        if resume == "none":
            return None
        if resume != "auto":
            path = Path(resume)
            if not path.is_file():
                raise FileNotFoundError(f"train.resume={resume!r}: no checkpoint at {path}")
            return path, load_engine_checkpoint(path)
        found = load_latest_checkpoint(self.ckpt_dir, quarantine=self.is_main)
        if found is None:
            return None
        path, state = found
        if self.config is not None:
            saved, source = state.get("config"), path.name
            yaml_path = self.out_dir / "config.yaml"
            if saved is None and yaml_path.is_file():
                saved, source = yaml.safe_load(yaml_path.read_text()) or {}, str(yaml_path)
            if isinstance(saved, Mapping):
                changed = check_resume_config(saved, self.config, source, self.safe_resume_keys)
                if changed and self.is_main:
                    log.info("resuming %s with changed keys (safe on resume): %s", path, ", ".join(changed))
        return path, state

    def _checkpoint_before(self, step: int) -> Path | None:
        """Newest checkpoint on disk written before optimizer step ``step`` ran."""
        found = [p for p in list_checkpoints(self.ckpt_dir) if (checkpoint_step(p) or 0) < step]
        return found[-1] if found else None

    def _global_skips(self) -> SkipLog:
        """The skip log of every process (a collective when there are several)."""
        if self.accelerator.num_processes == 1:
            return self.skips
        from accelerate.utils import gather_object

        merged = SkipLog(self.dataset)
        for part in gather_object([self.skips.state_dict()]):
            merged.merge(part["indices"], part["reads"])
        return merged

    # ------------------------------------------------------------------ loop
    def _loader(self) -> DataLoader:
        sampler = StepBatchSampler(
            self.num_samples, self.train_cfg.batch_size, self.total_steps, seed=self.train_cfg.seed,
            rank=self.accelerator.process_index, world_size=self.accelerator.num_processes,
            grad_accum=self.train_cfg.grad_accum, start_step=self.step, start_state=self.stream,
            batch_size_fn=self.batch_size_fn)
        self._sampler = sampler
        workers = self.train_cfg.num_workers
        return DataLoader(IndexedDataset(SeededDataset(self.dataset)), batch_sampler=sampler,
                          collate_fn=TrackSkipped(self.collate_fn),
                          num_workers=workers, pin_memory=torch.cuda.is_available(),
                          persistent_workers=False, prefetch_factor=2 if workers > 0 else None)

    def _set_schedules(self, step: int) -> float:
        lr, wd = self.lr_at(step), self.wd_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = 0.0 if step < group.get("frozen_steps", 0) else lr * group.get("lr_scale", 1.0)
            if group.get("apply_wd", True):
                group["weight_decay"] = wd
        return lr

    def _sync_unused_search(self, step: int) -> None:
        """Re-wrap DDP when ``task.find_unused_parameters(step)`` changes (accelerate's public calls only).

        ``Accelerator.free_memory()`` drops accelerate's references to the old wrapper (whose gradient hooks
        then go with it), and ``Accelerator.prepare`` wraps the task again under the updated
        ``DistributedDataParallelKwargs`` handler. A collective: every process re-wraps at the same step,
        since the answer is a function of the step.

        Raises:
            RuntimeError: the new wrapper does not have the requested setting (an accelerate release that
                no longer reads the handler it was given when it wraps a model).
        """
        from torch.nn.parallel import DistributedDataParallel as DDP

        if self._find_unused_always or not isinstance(self.task, DDP):
            return
        want = bool(self.unwrapped.find_unused_parameters(step))
        if want == self.task.find_unused_parameters:
            return
        module = self.unwrapped
        self.task = module  # the only other reference to the old wrapper is accelerate's, released next
        self.accelerator.free_memory()
        self._ddp_kwargs.find_unused_parameters = want
        self.task = self.accelerator.prepare(module)
        if not isinstance(self.task, DDP) or self.task.find_unused_parameters != want:
            import accelerate

            raise RuntimeError(f"accelerate {accelerate.__version__} did not re-wrap DDP with "
                               f"find_unused_parameters={want}; sparse_core.engine needs an update")

    def _clip(self) -> dict[str, float]:
        """Clip gradient norms (``train.clip_grad`` and the task's group norms); returns the norms."""
        clip = self.train_cfg.clip_grad
        if clip is None and all(g.get("clip_grad") is None for g in self.optimizer.param_groups):
            return {}
        self.precision.unscale_(self._torch_optimizer)
        return clip_grad_groups(self.optimizer, clip)

    def _check_finite(self, loss: torch.Tensor) -> None:
        bad = torch.tensor(0.0 if torch.isfinite(loss.detach()).all() else 1.0, device=loss.device)
        if self.accelerator.num_processes > 1:
            bad = self.accelerator.reduce(bad, reduction="sum")
        if bad.item() > 0:
            raise NonFiniteLossError(self._non_finite_message(loss.detach().float().mean().item()))

    def _check_step_had_data(self, computed: bool, skipped: Sequence[int]) -> None:
        """Stop (DatasetError, nothing exported) when no process read a usable sample in this optimizer step."""
        empty = torch.tensor(0.0 if computed else 1.0, device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            empty = self.accelerator.reduce(empty, reduction="sum")
        if int(empty.item()) == self.accelerator.num_processes:
            names = SkipLog(self.dataset)
            names.add(list(skipped))
            raise DatasetError(f"step {self.step}: every sample of the batch was unreadable ({len(skipped)} skipped, "
                               f"e.g. {', '.join(names.names()[:3]) or 'unknown'}); training stopped, nothing exported")

    def _non_finite_message(self, loss: float) -> str:
        onset = self.watch.onset
        first_bad = self.step if onset is None else min(onset.step, self.step)
        ckpt = self._checkpoint_before(first_bad)
        grew = "" if onset is None else (
            f"; the {onset.key} began to grow at step {onset.step} (at step {onset.flagged_step} it was "
            f"{onset.value:.4g}, over {self.watch.factor:g}x its running median {onset.median:.4g})")
        where = (f"{ckpt}" if ckpt is not None else
                 f"none (no checkpoint from before step {first_bad} remains; raise train.keep_last or "
                 "lower train.ckpt_every)")
        return (f"non-finite loss ({loss}) at step {self.step}; training stopped{grew}. Last checkpoint "
                f"written before {'the blow-up' if onset is not None else 'it'}: {where}. Resuming from it with "
                "the same settings will fail again (the resume is exact): lower optim.lr, enable or lower "
                "train.clip_grad, or lengthen optim.warmup_steps")

    def fit(self) -> dict[str, Any]:
        """Train to ``total_steps``; returns a summary dict (steps, final metrics, checkpoint, time)."""
        cfg = self.train_cfg
        if self.is_main and self.config is not None:
            save_config(self.config, self.out_dir / "config.yaml")
        accum = cfg.grad_accum
        if self.step == 0:
            probe_dataset(self.dataset)  # a source with no usable sample is refused before the first step
        loader = self._loader()
        bar = Progress(self.total_steps, initial=self.step, mode=cfg.progress if self.is_main else False,
                       desc=self.out_dir.name)
        self.task.train()
        t0 = time.perf_counter()
        last: dict[str, float] = {}
        sums: dict[str, float] = {}
        micro, lr = 0, 0.0
        step_skipped: list[int] = []
        computed = False
        for batch, skipped in loader:
            if micro == 0:
                computed = False
                self._sync_unused_search(self.step)
                torch.manual_seed(step_seed(cfg.seed, self.step, self.accelerator.process_index))
                lr = self._set_schedules(self.step)
                sums, step_skipped = {}, []
            step_skipped += skipped
            micro += 1
            sync = micro == accum
            if not _is_empty(batch):
                computed = True
                batch = move_to_device(batch, self.accelerator.device)
                ctx = self.accelerator.no_sync(self.task) if (not sync and accum > 1) else _nullcontext()
                with ctx:
                    with self.precision.autocast():
                        out = self.task(batch, self.step, micro - 1)
                    if "loss" not in out:
                        raise KeyError("Task.training_step must return a dict with a 'loss' entry")
                    out = self.precision.outputs_to_fp32(out)
                    self._check_finite(out["loss"])
                    self.precision.backward(out["loss"] / accum)
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach().float()) / accum
            if not sync:
                continue
            micro = 0
            self._check_step_had_data(computed, step_skipped)
            sums.update(self._clip())
            if self.precision.scaler is None:
                self.optimizer.step()
            else:  # fp16: the scaler steps the optimizer (or skips the step after an overflow)
                self.precision.step(self._torch_optimizer)
            self.optimizer.zero_grad(set_to_none=True)
            self.unwrapped.on_after_step(self.step, self.total_steps)
            b = self._sampler.global_batch(self.step)
            self.stream, _, _ = advance(self.stream, b, self.num_samples)
            self.skips.add(step_skipped)
            self._watch(sums)
            self.step += 1
            last = {**sums, "lr": lr, "epoch": self.stream.epoch, "skipped_total": self.num_skipped}
            bar.update(1, loss=f"{sums.get('loss', float('nan')):.4f}", lr=f"{lr:.2e}")
            if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                self.logger.log(self.step, last)
            if self.step % cfg.ckpt_every == 0 and self.step < self.total_steps:
                self.save()
        bar.close()
        if self.last_checkpoint is None or not self.last_checkpoint.name.endswith(f"{self.step:08d}.pt"):
            self.save()
        self.logger.close()
        skips = self._global_skips()
        self.accelerator.free_memory()  # release accelerate's references to this run (the Trainer keeps its own)
        loss_png = None
        if self.is_main:
            loss_png = plot_metrics(self.out_dir / "metrics.jsonl", self.out_dir / "loss.png")
            if len(skips):
                log.warning("%s", skips.summary())
        return {"steps": self.step, "metrics": last, "checkpoint": self.last_checkpoint,
                "loss_png": loss_png, "num_skipped": len(skips), "skipped_samples": skips.names(),
                "time_s": time.perf_counter() - t0}

    def _watch(self, sums: Mapping[str, float]) -> None:
        """Feed the step's loss (and shared gradient norm, when clipping computed it) to the divergence watch."""
        values = {k: float(sums[k]) for k in ("loss", "grad_norm") if k in sums}
        if self.precision.scaler is not None and not math.isfinite(values.get("grad_norm", 0.0)):
            values.pop("grad_norm")  # fp16: an overflowing step is skipped by the scaler, not a blow-up
        self.watch.update(self.step, values)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
