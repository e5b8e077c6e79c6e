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
depend on its bias.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["hold_key_bias"]


def _zero_key_slice(grad: Tensor) -> Tensor:
    """The gradient of a ``(3D,)`` qkv bias with its key slice ``D:2D`` set to zero."""
    out = grad.clone()
    d = out.shape[0] // 3
    out[d : 2 * d] = 0
    return out


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
            hooks = qkv.bias._backward_hooks or {}
            if not any(h is _zero_key_slice for h in hooks.values()):  # held once, however often called
                qkv.bias.register_hook(_zero_key_slice)
            held.append(f"{name}.qkv.bias" if name else "qkv.bias")
    return held
