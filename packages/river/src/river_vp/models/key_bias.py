"""Attention key biases get no gradient: they have no effect on the output.

A key bias ``b`` adds ``q . b`` to every logit of a query's softmax row, and the softmax removes a constant
added to a whole row, so the exact gradient of ``b`` is zero and the computed one is float rounding. Adam
divides each gradient by its running magnitude, so that rounding (which differs with how a batch is split,
e.g. between one process and two) moved a key bias by up to ``lr`` a step in a random direction: a random walk
of a parameter without effect, and checkpoints of 1 and N processes that differ by about ``lr``.
:func:`drop_key_bias_grad` registers a hook that zeroes that gradient (the parameter stays, so checkpoints
and optimizer states keep their layout).
"""

from __future__ import annotations

from functools import partial

from torch import Tensor, nn

__all__ = ["drop_key_bias_grad"]


def _zero_rows(grad: Tensor, rows: slice) -> Tensor:
    grad = grad.clone()
    grad[rows] = 0
    return grad


def drop_key_bias_grad(bias: nn.Parameter, rows: slice = slice(None)) -> None:
    """Zero the gradient of ``bias[rows]``, the key bias of an attention (all of it by default).

    Args:
        bias: the bias of the key projection, or of a fused ``[query, key, value]`` projection.
        rows: the key entries of ``bias`` (``slice(width, 2 * width)`` in a fused ``qkv`` bias).
    """
    bias.register_hook(partial(_zero_rows, rows=rows))
