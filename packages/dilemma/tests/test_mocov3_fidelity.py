"""MoCo v3 fidelity: heads and initialisation as facebookresearch/moco-v3's ViT (``MoCo_ViT``, ``vits.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from dilemma_test_utils import tiny_method, tiny_model
from torch import nn

from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants.mocov3 import MoCoV3DilemmaTask, init_mocov3_vit


def _task(**model: object) -> MoCoV3DilemmaTask:
    torch.manual_seed(0)
    return MoCoV3DilemmaTask(tiny_model(**model), tiny_method(), SparsitySchedule.constant(8, 0.5), seed=0)


def _layers(head: nn.Module) -> list[nn.Module]:
    return list(head.mlp)


@pytest.mark.parametrize("pred_layers", [3, 2])
def test_projector_and_predictor_end_in_bn_without_affine(pred_layers: int) -> None:
    # thesis sec. 3.2.2: 3-layer projection and prediction heads (the default); 2: MoCo v3's ViT predictor
    task = _task(head_norm="bn", pred_layers=pred_layers)
    for head, n_linear in ((task.student.projector, 3), (task.predictor, pred_layers)):
        layers = _layers(head)
        linears = [m for m in layers if isinstance(m, nn.Linear)]
        assert len(linears) == n_linear
        assert all(m.bias is None for m in linears)  # _build_mlp: Linear(bias=False) everywhere
        last = layers[-1]
        assert isinstance(last, nn.BatchNorm1d) and not last.affine
        assert last.num_features == task.model_cfg.proj_dim
        hidden_bns = [m for m in layers[:-1] if isinstance(m, nn.BatchNorm1d)]
        assert len(hidden_bns) == n_linear - 1 and all(m.affine for m in hidden_bns)


def test_predictor_has_three_layers_by_default_as_the_thesis() -> None:
    linears = [m for m in _layers(_task(head_norm="bn").predictor) if isinstance(m, nn.Linear)]
    assert len(linears) == 3


def test_predictor_output_is_batch_standardised_in_training() -> None:
    task = _task(head_norm="bn").train()
    q = task.predictor(torch.randn(64, task.model_cfg.proj_dim) * 3.0 + 1.0)  # (B, G)
    # BN(affine=False) in train mode: every feature has batch mean 0 and (biased) variance 1
    torch.testing.assert_close(q.mean(0), torch.zeros(q.shape[1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(q.var(0, unbiased=False), torch.ones(q.shape[1]), atol=1e-3, rtol=0)


def _uniform_stats_match(w: torch.Tensor, bound: float) -> None:
    """Samples of U(-bound, bound): inside the bound, reaching close to it, std = bound / sqrt(3)."""
    w = w.detach().flatten()
    assert w.abs().max() <= bound + 1e-7
    assert w.abs().max() > 0.9 * bound
    assert abs(w.std().item() - bound / math.sqrt(3.0)) < 0.05 * bound / math.sqrt(3.0)
    assert abs(w.mean().item()) < 0.05 * bound


def test_backbone_initialised_as_mocov3_vits() -> None:
    task = _task(embed_dim=64)
    vit = task.backbone
    d, p, c = 64, 4, 3
    proj = vit.patch_embed.proj
    _uniform_stats_match(proj.weight, math.sqrt(6.0 / (c * p * p + d)))  # vits.py: sqrt(6 / (3 p^2 + D))
    assert torch.count_nonzero(proj.bias) == 0
    n_qkv = 0
    for name, m in vit.named_modules():
        if not isinstance(m, nn.Linear):
            continue
        fan_out, fan_in = m.weight.shape
        if name.endswith("attn.qkv"):
            n_qkv += 1
            bound = math.sqrt(6.0 / (fan_out // 3 + fan_in))  # Q, K, V treated separately
        else:
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # xavier_uniform_
        _uniform_stats_match(m.weight, bound)
        assert m.bias is None or torch.count_nonzero(m.bias) == 0
    assert n_qkv == task.model_cfg.depth
    assert vit.cls_token.abs().max() < 1e-5  # normal(std=1e-6)


def test_init_is_what_changes_pytorch_and_timm_defaults() -> None:
    """The same backbone before init_mocov3_vit has the other statistics (timm: trunc-normal std 0.02)."""
    from dilemma_ssl.backbone import build_backbone

    torch.manual_seed(0)
    vit = build_backbone(tiny_model(embed_dim=64))
    qkv = vit.blocks[0].attn.qkv.weight
    bound = math.sqrt(6.0 / (qkv.shape[0] // 3 + qkv.shape[1]))
    assert qkv.std().item() < 0.5 * bound / math.sqrt(3.0)
    init_mocov3_vit(vit)
    _uniform_stats_match(vit.blocks[0].attn.qkv.weight, bound)


def test_patch_projection_frozen_and_teacher_copies_the_initialised_student() -> None:
    task = _task()
    assert task.model_cfg.freeze_patch_embed  # MoCo v3 stop_grad_conv1
    assert not any(p.requires_grad for p in task.backbone.patch_embed.parameters())
    teacher = dict(task.teacher.module.named_parameters())
    for name, p in task.student.named_parameters():
        torch.testing.assert_close(teacher[name], p, rtol=0, atol=0)


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_flag_controls_the_patch_projection(freeze: bool) -> None:
    task = _task(freeze_patch_embed=freeze)
    assert task.backbone.patch_embed.proj.weight.requires_grad is not freeze
