"""Per-step randomness: the one place that turns ``(seed, step, micro-batch, stream)`` into random numbers.

Every random choice a method makes inside a training step (tokens to keep, mask or mismatch, context frames,
distillation subsets) is drawn from :func:`step_generator` for the **global** batch and then sliced to this
process' rows with :func:`global_rows`. Two properties follow:

- N processes see exactly the draws one process holding the concatenated batch would see;
- every micro-batch of a gradient-accumulation step gets its own draw, and a resumed run repeats it.

Streams are named (``"tokens"``, ``"view0"``, ...) so that two independent choices of one step never share a
generator; :func:`stream_id` maps a name to a stable integer (CRC-32, independent of ``PYTHONHASHSEED``).
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


def global_rows(local_batch: int, device: torch.device | None = None) -> GlobalRows:
    """This process' rows of the global batch (uneven local batches allowed; one all-gather of sizes).

    Draw for ``total`` samples, then keep ``draw[rows]``.
    """
    sizes = all_gather_sizes(local_batch, device)
    start = sum(sizes[: get_rank()]) if len(sizes) > 1 else 0
    return GlobalRows(sum(sizes), start, start + local_batch)
