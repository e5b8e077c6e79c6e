"""torch's intra-op thread count pinned for a block (tests of tiny tensors, bit-stable reductions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block on ``n`` intra-op threads, then restore the previous count (also on an exception).

    One thread keeps tiny-tensor tests from oversubscribing a busy 2-core runner, and makes a matmul's
    reduction order independent of the batch's shape (with several threads it is not).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
