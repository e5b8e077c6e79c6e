"""Seeded model construction: the same seed builds bitwise-equal weights, another seed other weights."""

# ruff: noqa: NPY002  (the legacy global NumPy RNG is what is seeded and checked here)

from __future__ import annotations

import random

import numpy as np
import pytest
import timm
import torch
from torch import nn

from sparse_core.engine.seeding import build_seeded, seeded


def _build(depth: int = 2) -> nn.Module:
    """A model whose construction draws from torch (init), NumPy and random (e.g. a random layer choice)."""
    model = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=depth, num_classes=4)
    model.register_buffer("np_draw", torch.from_numpy(np.random.rand(3)))
    model.register_buffer("py_draw", torch.tensor([random.random()]))
    return model


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return model.state_dict()


def test_same_seed_builds_bitwise_equal_weights_and_other_seeds_differ() -> None:
    torch.manual_seed(123)  # the global state before the build must not matter
    a = _state(build_seeded(_build, 7))
    torch.rand(10)
    np.random.rand(5)
    random.random()
    b = _state(build_seeded(_build, 7, depth=2))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = _state(build_seeded(_build, 8))
    for k in ("patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "head.weight", "np_draw", "py_draw"):
        assert not torch.equal(a[k], c[k]), k


def test_seeded_matches_manual_seed_and_restores_the_rngs() -> None:
    torch.manual_seed(0)
    direct = nn.Linear(4, 4).weight.clone()
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    expected = (torch.rand(2), np.random.rand(2), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    with seeded(0):
        inside = nn.Linear(4, 4).weight.clone()
    after = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(inside, direct)  # torch.manual_seed(seed) exactly: DILEMMA's runner keeps its weights
    assert torch.equal(after[0], expected[0]) and np.array_equal(after[1], expected[1]) and after[2] == expected[2]


def test_seeded_restores_the_rngs_when_the_build_fails() -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    with pytest.raises(RuntimeError, match="boom"):
        with seeded(1):
            torch.rand(100)
            raise RuntimeError("boom")
    assert torch.equal(torch.rand(3), expected)
