"""Deterministic, resumable, rank-aware batching with per-sample augmentation seeds.

The data order is a pure function of ``(seed, epoch)`` and the position in the stream is a small state
``(epoch, cursor)`` advanced by the global batch size of each step, so a resumed run sees exactly the same
samples (and, through per-sample seeds, the same augmentations) as an uninterrupted one, whatever the number
of DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from .randomness import mix_seed, stream_id

__all__ = ["StreamState", "StepBatchSampler", "SeededDataset", "advance", "sample_seed", "epoch_permutation",
           "check_run_batches"]


@dataclass
class StreamState:
    """Position in the data stream: epoch and index of the next sample in that epoch's permutation."""

    epoch: int = 0
    cursor: int = 0


def advance(state: StreamState, global_batch: int, num_samples: int) -> tuple[StreamState, int, int]:
    """Take ``global_batch`` samples from the stream (drop-last: a batch never spans two epochs).

    Returns:
        (new state, epoch of the batch, start offset of the batch in that epoch's permutation).
    """
    if global_batch > num_samples:
        raise ValueError(f"batch of {global_batch} is larger than the dataset ({num_samples} samples)")
    epoch, cursor = state.epoch, state.cursor
    if cursor + global_batch > num_samples:
        epoch, cursor = epoch + 1, 0
    return StreamState(epoch, cursor + global_batch), epoch, cursor


def check_run_batches(num_samples: int, total_steps: int, batch_size: int,
                      batch_size_fn: Callable[[int], int] | None = None, parts: int = 1) -> int:
    """Check every step's global batch of the run before step 0; returns the largest.

    With a ``batch_size_fn`` (DILEMMA's random sparsity schedule) each of the ``total_steps`` steps is asked
    (a pure function of the step: cheap), so a run is refused up front rather than at the step that first
    draws too large a batch.

    Args:
        num_samples: dataset length.
        total_steps: optimizer steps of the run.
        batch_size: the global batch of every step when ``batch_size_fn`` is None.
        batch_size_fn: ``step -> global batch size``.
        parts: world_size x grad_accum; every batch must divide into them.

    Raises:
        ConfigError: a batch larger than the dataset, below 1 or not divisible by ``parts`` (the message names
            the step).
    """
    from ..config import ConfigError

    steps = range(total_steps) if batch_size_fn is not None else range(1)
    largest, at = 0, 0
    for step in steps:
        b = batch_size_fn(step) if batch_size_fn is not None else batch_size
        if b < 1 or b % parts:
            raise ConfigError(f"the global batch of step {step} is {b}: it must be >= 1 and divisible by "
                              f"world_size x grad_accum = {parts}")
        if b > largest:
            largest, at = b, step
    if largest > num_samples:
        what = (f"the batch schedule (batch_size_fn) needs a batch of {largest} at step {at}, the largest of the "
                f"run" if batch_size_fn is not None else f"train.batch_size={largest}")
        raise ConfigError(f"{what}: larger than the dataset ({num_samples} samples)")
    return largest


def epoch_permutation(seed: int, epoch: int, num_samples: int) -> torch.Tensor:
    """Data order of ``epoch``: a permutation of ``range(num_samples)`` keyed by ``(seed, epoch, "order")``.

    Shape:
        returns ``(num_samples,)`` long.
    """
    g = torch.Generator().manual_seed(mix_seed(seed, epoch, stream_id("order")))
    return torch.randperm(num_samples, generator=g)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Seed of the augmentations of sample ``index`` in ``epoch``: ``mix_seed(seed, epoch, index, "augment")``."""
    return mix_seed(seed, epoch, index, stream_id("augment"))


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields, for each optimizer step, ``grad_accum`` micro-batches of this rank's share of the global batch.

    Each element is ``(dataset_index, augmentation_seed)``; wrap the dataset in :class:`SeededDataset`.

    Args:
        num_samples: dataset length.
        batch_size: global batch per step (all ranks, all micro-batches), unless ``batch_size_fn`` is given.
        total_steps: optimizer steps of the run; the sampler stops after the last one.
        seed: run seed keying the epoch permutations and the per-sample augmentation seeds.
        rank: this process's rank; it takes the ``rank``-th contiguous share of each global batch.
        world_size: number of processes sharing each global batch.
        grad_accum: micro-batches per optimizer step; each rank's share is split into this many.
        start_step: first step to yield (resume).
        start_state: stream position at ``start_step`` (resume); the beginning of epoch 0 when None.
        batch_size_fn: ``step -> global batch size`` (a batch-size schedule), overriding ``batch_size``.

    Raises:
        ValueError: the global batch of ``start_step`` is not divisible by ``world_size x grad_accum``.
    """

    def __init__(self, num_samples: int, batch_size: int, total_steps: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, grad_accum: int = 1, start_step: int = 0,
                 start_state: StreamState | None = None,
                 batch_size_fn: Callable[[int], int] | None = None) -> None:
        self.num_samples, self.batch_size, self.total_steps = num_samples, batch_size, total_steps
        self.seed, self.rank, self.world_size, self.grad_accum = seed, rank, world_size, grad_accum
        self.start_step, self.start_state = start_step, start_state or StreamState()
        self.batch_size_fn = batch_size_fn
        self.global_batch(start_step)  # validate early

    def global_batch(self, step: int) -> int:
        """Global batch size of ``step`` (all ranks, all micro-batches).

        Args:
            step: optimizer step.

        Returns:
            ``batch_size_fn(step)`` when a schedule is set, else ``batch_size``.

        Raises:
            ValueError: the batch is not divisible by ``world_size x grad_accum``.
        """
        b = self.batch_size_fn(step) if self.batch_size_fn is not None else self.batch_size
        parts = self.world_size * self.grad_accum
        if b % parts:
            raise ValueError(f"global batch {b} (step {step}) must be divisible by world_size x grad_accum "
                             f"= {self.world_size} x {self.grad_accum}")
        return b

    def __len__(self) -> int:
        """Number of micro-batches still to yield: ``(total_steps - start_step) x grad_accum``."""
        return (self.total_steps - self.start_step) * self.grad_accum

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        """Yield this rank's micro-batches, step by step, as lists of ``(dataset_index, augmentation_seed)``."""
        state = self.start_state
        perm_epoch, perm = -1, torch.empty(0, dtype=torch.long)
        for step in range(self.start_step, self.total_steps):
            b = self.global_batch(step)
            state, epoch, offset = advance(state, b, self.num_samples)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, epoch_permutation(self.seed, epoch, self.num_samples)
            per_rank = b // self.world_size
            micro = per_rank // self.grad_accum
            start = offset + self.rank * per_rank
            for m in range(self.grad_accum):
                idx = perm[start + m * micro: start + (m + 1) * micro].tolist()
                yield [(i, sample_seed(self.seed, epoch, i)) for i in idx]


class SeededDataset(Dataset):
    """Calls ``base[index]`` under a fixed torch RNG seed so augmentations are reproducible per sample.

    Args:
        base: the dataset to read; its items are indexed by the ``(index, seed)`` pairs of
            :class:`StepBatchSampler`.
    """

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        """Length of the base dataset."""
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, item: tuple[int, int]) -> Any:
        """Return ``base[index]`` read with the global torch RNG seeded by ``seed``; the RNG is restored after.

        Args:
            item: ``(dataset_index, augmentation_seed)``.
        """
        index, seed = item
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only: augmentations draw on the CPU, and torch.manual_seed also (lazily) seeds
            # every accelerator generator, which costs ~0.3 ms a sample (the CPU profile of sparse_core.step_profile)
            torch.default_generator.manual_seed(seed)
            return self.base[index]
