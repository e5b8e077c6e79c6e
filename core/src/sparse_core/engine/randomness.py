"""Per-step randomness: the one place that turns ``(seed, step, micro-batch, stream)`` into random numbers.

Every random choice a method makes inside a training step (tokens to keep, mask or mismatch, context frames,
distillation subsets) is drawn from :func:`step_generator` for the **whole step batch** (every process, every
micro-batch) and then sliced to the rows of this process' micro-batch with :func:`global_rows`. Three
properties follow:

- N processes see exactly the draws one process holding the concatenated batch would see;
- with ``grad_accum = A`` every micro-batch gets its own rows of the draw, so the accumulated gradient equals
  the gradient of one step on the whole batch (for per-sample losses), and no pattern repeats;
- a resumed run repeats every draw.

The row layout follows :class:`sparse_core.engine.sampler.StepBatchSampler`: rank-major, then micro-batch
(rank ``r`` holds rows ``r * A * b .. (r + 1) * A * b`` of a step whose local micro-batches hold ``b``).
``micro`` in :func:`step_generator` is for the rare choice made once per micro-batch rather than per row.

Streams are named (``"tokens"``, ``"view0"``, ...) so that two independent choices of one step never share a
generator; :func:`stream_id` maps a name to a stable integer (CRC-32, independent of ``PYTHONHASHSEED``).

:func:`mix_seed` is the one seed formula of the engine: the data order (``sampler.epoch_permutation``,
stream ``"order"``), the per-sample augmentation seeds (``sampler.sample_seed``, ``"augment"``) and the
global torch RNG of each step and process (``trainer.step_seed``, ``"global"``) are keyed through it too.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch

from sparse_core.distributed import all_gather_sizes, get_rank

__all__ = ["mix_seed", "stream_id", "step_generator", "GlobalRows", "global_rows"]

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def mix_seed(*keys: int) -> int:
    """A 63-bit seed that depends on every key and their order (SplitMix64 chaining).

    Distinct key tuples give unrelated seeds, unlike linear formulas such as ``seed * C + step`` whose
    streams collide for some ``(seed, step)`` pairs.
    """
    h = 0
    for k in keys:
        h = _splitmix64(h ^ (int(k) & _MASK64))
    return h & ((1 << 63) - 1)


def stream_id(stream: str | int) -> int:
    """Stable integer of a stream name (CRC-32); integers pass through."""
    return stream if isinstance(stream, int) else zlib.crc32(stream.encode())


def step_generator(seed: int, step: int, micro: int = 0, stream: str | int = 0) -> torch.Generator:
    """A CPU generator for one random choice of one micro-batch of one optimizer step.

    Args:
        seed: the run seed (``train.seed``).
        step: optimizer step (0-based).
        micro: micro-batch index within the step (``0 .. grad_accum - 1``).
        stream: name (or id) of the choice, so independent choices use independent generators.

    Draw on the CPU and move the result to the device: CPU generators give the same numbers on every machine.
    """
    return torch.Generator().manual_seed(mix_seed(seed, step, micro, stream_id(stream)))


@dataclass(frozen=True)
class GlobalRows:
    """Where this process' samples sit in the global batch.

    Attributes:
        total: global batch size (sum over processes).
        start: first global row of this process.
        stop: one past its last row.
    """

    total: int
    start: int
    stop: int

    @property
    def rows(self) -> slice:
        """The slice of this process' rows."""
        return slice(self.start, self.stop)


def global_rows(local_batch: int, micro: int = 0, accum: int = 1, device: torch.device | None = None) -> GlobalRows:
    """Rows of this process' micro-batch in the step's whole batch (one all-gather of sizes when distributed).

    Draw for ``total`` samples, then keep ``draw[rows]``. With equal local sizes (the sampler's layout) the
    rows are exactly where these samples sit in the step batch; uneven sizes (skipped files) are padded to
    the largest so rows stay disjoint.

    Args:
        local_batch: samples in this process' micro-batch.
        micro: micro-batch index within the step.
        accum: micro-batches per step (``train.grad_accum``).
        device: device of the size all-gather (NCCL needs CUDA tensors).
    """
    if not 0 <= micro < accum:
        raise ValueError(f"micro-batch index {micro} is outside 0..{accum - 1}")
    sizes = all_gather_sizes(local_batch, device)
    width = max(sizes)
    start = (get_rank() * accum + micro) * width if len(sizes) > 1 else micro * width
    return GlobalRows(width * len(sizes) * accum, start, start + local_batch)
