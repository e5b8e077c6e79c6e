"""The student towers: attention key biases get no gradient, and the text tower runs on 0 captions."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sfclip.towers import TextTower, VisionTower

WIDTH = 24


def _text_tower() -> TextTower:
    return TextTower(torch.randn(50, 8), WIDTH, depth=2, num_heads=2, context_length=8, embed_dim=16)


def _text_input(b: int) -> tuple[Tensor, Tensor]:
    ids = torch.randint(0, 50, (b, 6))
    att = torch.ones(b, 6, dtype=torch.long)
    att[:, 4:] = 0  # padding
    return ids, att


def _check_key_bias(biases: list[Tensor], run: Callable[[], Tensor]) -> None:
    """Shifting the key third of every fused bias leaves the output unchanged; its gradient is zero, the
    query and value thirds' are not."""
    base = run()
    with torch.no_grad():
        for bias in biases:
            bias[WIDTH : 2 * WIDTH] += torch.randn(WIDTH)
    torch.testing.assert_close(run(), base, atol=1e-5, rtol=1e-5)
    run().pow(2).sum().backward()
    for bias in biases:
        assert bias.grad is not None and (bias.grad[WIDTH : 2 * WIDTH] == 0).all()
        assert bias.grad[:WIDTH].abs().sum() > 0 and bias.grad[2 * WIDTH :].abs().sum() > 0


def test_text_key_biases_have_no_effect_and_get_no_gradient() -> None:
    torch.manual_seed(0)
    tower = _text_tower()
    ids, att = _text_input(3)
    _check_key_bias([blk.self_attn.in_proj_bias for blk in tower.blocks.layers], lambda: tower(ids, att))


def test_vision_key_biases_have_no_effect_and_get_no_gradient() -> None:
    torch.manual_seed(0)
    tower = VisionTower(32, 8, WIDTH, depth=2, num_heads=2, embed_dim=16)
    images = torch.rand(3, 3, 32, 32)
    _check_key_bias([blk.attn.qkv.bias for blk in tower.vit.blocks], lambda: tower(images))


def test_text_tokens_of_no_captions_keep_every_block_in_the_graph() -> None:
    """A process whose share of the text-distillation subset is empty runs the tower on 0 rows (a 0-row padding
    mask would not reshape in nn.MultiheadAttention): an empty result whose backward reaches every block."""
    torch.manual_seed(0)
    tower = _text_tower()
    ids, att = _text_input(0)
    out = tower.tokens(ids, att, zero=torch.zeros(0, 6, dtype=torch.bool))
    assert out.shape == (0, 6, WIDTH)
    (0.0 * out.sum()).backward()
    assert [n for n, p in tower.blocks.named_parameters() if p.grad is None] == []
