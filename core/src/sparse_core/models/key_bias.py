"""The key bias of fused ``qkv`` projections, held at its value: its gradient is exactly zero.

A key bias ``b`` adds ``q . b`` to every score of a query, the same for every key, and the softmax over the keys
ignores a constant shift, so attention outputs do not depend on it (VideoMAE has no key bias for this reason;
:mod:`~sparse_core.models.videomae`). Its gradient is zero in exact arithmetic, and what float rounding leaves
(~1e-9 against ~1e-2 for the query bias) Adam divides by its own size: the bias takes random steps of up to
the learning rate, different on N processes than on one (their sums round differently), which alone made the
2-process launch of the trainers differ from one process. :func:`hold_key_bias` zeroes that slice of the
gradient, so the key bias keeps its initial value (weight decay skips 1-D parameters) and state dicts keep
timm's ``qkv.bias`` layout.

Only layers without a key normalisation (``k_norm`` absent or ``nn.Identity``) are held: a normalised key does
depend on its bias. :func:`hold_bias` holds one given bias: the key third of any fused ``[query, key, value]``
bias (``nn.MultiheadAttention.in_proj_bias``, a U-ViT block) or the whole bias of a separate key projection
(a VQGAN attention's ``k``).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["hold_bias", "hold_key_bias"]


def _zero_key_slice(grad: Tensor) -> Tensor:
    """The gradient of a ``(3D,)`` qkv bias with its key slice ``D:2D`` set to zero."""
    out = grad.clone()
    d = out.shape[0] // 3
    out[d : 2 * d] = 0
    return out


def _zero_all(grad: Tensor) -> Tensor:
    """A zero gradient of the shape of ``grad`` (the bias of a separate key projection)."""
    return grad.new_zeros(grad.shape)


def hold_bias(bias: Tensor, part: str = "fused_key") -> bool:
    """Zero (part of) the gradient of one attention bias that has no effect through the softmax.

    Args:
        bias: a fused ``[query, key, value]`` bias of shape ``(3 D,)`` (``part="fused_key"``: its key slice
            ``D:2D`` is held) or the bias of a separate key projection (``part="all"``).
        part: ``"fused_key"`` or ``"all"``.

    Returns:
        True when a hook was added; False for a frozen bias or one already held the same way.

    Raises:
        ValueError: an unknown ``part``, or a fused bias whose length is not a multiple of 3.
    """
    hooks = {"fused_key": _zero_key_slice, "all": _zero_all}
    if part not in hooks:
        raise ValueError(f"part must be one of {sorted(hooks)}, not {part!r}")
    if part == "fused_key" and bias.shape[0] % 3:
        raise ValueError(f"a fused [query, key, value] bias has a length divisible by 3, not {bias.shape[0]}")
    hook = hooks[part]
    if not bias.requires_grad or any(h is hook for h in (bias._backward_hooks or {}).values()):
        return False
    bias.register_hook(hook)
    return True


def hold_key_bias(module: nn.Module) -> list[str]:
    """Zero the key slice of the gradient of every fused qkv bias of ``module`` (timm ``Attention`` layers).

    A gradient hook on each such trainable ``qkv.bias``: it stays on the parameter through checkpoints and
    DDP, and is not copied by ``copy.deepcopy`` (an EMA teacher, which gets no gradient, needs none).

    Args:
        module: any network; layers with a ``qkv`` ``nn.Linear`` with a bias and ``num_heads`` are held.

    Returns:
        the names of the held biases (as in ``module.named_parameters()``); a second call adds no hook.
    """
    held: list[str] = []
    for name, layer in module.named_modules():
        qkv = getattr(layer, "qkv", None)
        if not (isinstance(qkv, nn.Linear) and qkv.bias is not None and hasattr(layer, "num_heads")):
            continue
        if not isinstance(getattr(layer, "k_norm", nn.Identity()), nn.Identity) or qkv.out_features % 3:
            continue
        if qkv.bias.requires_grad:
            hold_bias(qkv.bias)  # held once, however often called
            held.append(f"{name}.qkv.bias" if name else "qkv.bias")
    return held
