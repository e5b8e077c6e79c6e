"""Zero-shot segmentation features: the final attention keys (thesis sec. 7.3.2), the final tokens as option."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sfclip.towers import VisionTower


def test_final_keys_are_the_last_blocks_keys_through_the_final_norm() -> None:
    torch.manual_seed(0)
    tower = VisionTower(16, 8, 12, 2, 3, 8).eval()
    images = torch.rand(2, 3, 16, 16)
    inputs: list[torch.Tensor] = []
    last = tower.vit.blocks[-1]
    handle = last.register_forward_pre_hook(lambda _m, args: inputs.append(args[0]))
    with torch.no_grad():
        tokens = tower.tokens(images)
        handle.remove()
        keys = tower.final_keys(images)
        direct = tower.vit.norm(last.attn.qkv(last.norm1(inputs[0]))[..., 12:24])  # (B, N, width)
    assert keys.shape == tokens.shape == (2, 4, 12)
    torch.testing.assert_close(keys, direct)
    assert not torch.allclose(keys, tokens)


def test_dense_embeddings_choose_keys_or_tokens() -> None:
    from sfclip.evaluation.model import CLIPEncoder
    from sparse_core.losses.clip import LogitScale

    torch.manual_seed(0)
    vision = VisionTower(16, 8, 12, 1, 3, 8)
    model = CLIPEncoder(torch.nn.ModuleDict({"vision": vision, "logit_scale": LogitScale()}), tokenizer=None)
    images = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        expected = F.normalize(vision.proj(vision.tokens(images)), dim=-1).reshape(2, 2, 2, 8)
        torch.testing.assert_close(model.dense_embeddings(images, "tokens"), expected)
        keys = model.dense_embeddings(images)  # default: the thesis' keys
        direct = F.normalize(vision.proj(vision.final_keys(images)), dim=-1).reshape(2, 2, 2, 8)
        torch.testing.assert_close(keys, direct)
    with pytest.raises(ValueError, match="dense features"):
        model.dense_embeddings(images, "values")
