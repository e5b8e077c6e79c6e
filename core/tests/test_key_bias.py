"""hold_key_bias: the key slice of a fused qkv bias changes no attention output and gets a zero gradient."""

from __future__ import annotations

import copy

import pytest
import torch
from timm.layers import Attention
from torch import nn

from sparse_core.models.key_bias import hold_bias, hold_key_bias


def _attention(**kw: object) -> Attention:
    torch.manual_seed(0)
    layer = Attention(16, num_heads=2, qkv_bias=True, **kw)  # type: ignore[arg-type]
    nn.init.normal_(layer.qkv.bias)
    return layer


def test_the_key_bias_changes_no_output_and_is_held() -> None:
    x = torch.randn(3, 5, 16)
    free, held = _attention(), _attention()
    out = held(x)
    with torch.no_grad():
        held.qkv.bias[16:32] += 3.0  # another key bias: the same attention output
    torch.testing.assert_close(held(x), out, atol=1e-5, rtol=1e-5)
    held.load_state_dict(free.state_dict())
    assert hold_key_bias(nn.Sequential(held)) == ["0.qkv.bias"] == hold_key_bias(nn.Sequential(held))
    assert len(held.qkv.bias._backward_hooks) == 1
    free(x).pow(2).sum().backward()
    held(x).pow(2).sum().backward()
    g, ref = held.qkv.bias.grad, free.qkv.bias.grad
    assert g is not None and ref is not None
    assert torch.equal(g[16:32], torch.zeros(16)) and float(ref[16:32].abs().max()) < 1e-4  # rounding only
    assert torch.equal(g[:16], ref[:16]) and torch.equal(g[32:], ref[32:])  # query and value untouched
    assert torch.equal(held.qkv.weight.grad, free.qkv.weight.grad)
    teacher = copy.deepcopy(held)  # an EMA copy: no hook, still a plain module
    assert teacher.qkv.bias._backward_hooks in (None, {})


def test_normalised_keys_and_frozen_biases_are_left_alone() -> None:
    normed = _attention(qk_norm=True, norm_layer=nn.LayerNorm)  # k_norm(k + b) depends on b
    frozen = _attention()
    frozen.qkv.bias.requires_grad_(False)
    assert hold_key_bias(nn.ModuleList([normed, frozen])) == []


def test_hold_bias_fused_third_and_whole_bias() -> None:
    fused = nn.Parameter(torch.randn(12))
    whole = nn.Parameter(torch.randn(4))
    assert hold_bias(fused) and not hold_bias(fused)  # a second call adds no hook
    assert hold_bias(whole, "all")
    (fused * torch.arange(12.0)).sum().backward()
    (whole * 3).sum().backward()
    expected = torch.arange(12.0)
    expected[4:8] = 0
    assert torch.equal(fused.grad, expected)
    assert torch.equal(whole.grad, torch.zeros(4))
    assert not hold_bias(nn.Parameter(torch.randn(6), requires_grad=False))
    with pytest.raises(ValueError, match="divisible by 3"):
        hold_bias(nn.Parameter(torch.randn(5)))
    with pytest.raises(ValueError, match="part must be one of"):
        hold_bias(fused, "query")
