"""Shared tiny configurations of the tests: a 2-block ViT on 16 x 16 images (16 tokens), seconds per test."""

from __future__ import annotations

import torch

from dilemma_ssl.config import DINOConfig, MAEConfig, MethodConfig, ModelConfig
from dilemma_ssl.presets import small_vit


def tiny_model(**overrides: object) -> ModelConfig:
    """The small ViT shrunk to 16 patch tokens, width 32, 2 blocks; heads without BN unless asked."""
    tiny = dict(embed_dim=32, depth=2, num_heads=2, proj_hidden_dim=64, proj_dim=16, head_norm="none")
    return small_vit(16, 4, **{**tiny, **overrides})


def tiny_method(**overrides: object) -> MethodConfig:
    """Method flags with small DINO / MAE heads."""
    kw: dict[str, object] = dict(
        dino=DINOConfig(out_dim=64, local_crops=2, local_size=8), mae=MAEConfig(decoder_dim=16, decoder_depth=1)
    )
    kw.update(overrides)
    return MethodConfig(**kw)  # type: ignore[arg-type]


def fixed_views(variant: str, batch: int = 8, seed: int = 0) -> dict[str, object]:
    """A fixed batch of views: two 16 px views (+ two 8 px local crops for DINO)."""
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch, 3, 16, 16, generator=g) for _ in range(2)]
    if variant == "dino":
        views += [torch.randn(batch, 3, 8, 8, generator=g) for _ in range(2)]
    return {"views": views}


def distributed_step(rank: int, world: int, variant: str, head_norm: str = "none") -> dict:
    """One gloo rank (run by ``sparse_core.testing.run_distributed``): its block of the fixed batch."""
    from dilemma_ssl.schedule import SparsitySchedule
    from dilemma_ssl.variants import TASKS

    return run_fixed_step(variant, SparsitySchedule, TASKS, rank, world, head_norm)


def run_fixed_step(variant: str, schedule_cls: type, tasks: dict, rank: int = 0, world: int = 1,
                   head_norm: str = "none") -> dict:
    """Loss, averaged gradients and buffers after one DILEMMA step on this rank's block of a fixed batch of 8
    (``head_norm``: the heads' normalisation)."""
    from sparse_core.distributed import all_reduce_mean

    torch.manual_seed(0)
    task = tasks[variant](tiny_model(head_norm=head_norm), tiny_method(variant=variant),
                          schedule_cls.constant(8, 0.5), seed=0)
    batch = fixed_views(variant, batch=8)
    b = 8 // world
    local = {"views": [v[rank * b : (rank + 1) * b] for v in batch["views"]]}
    out = task.training_step(local, 3)
    out["loss"].backward()
    grads = {n: all_reduce_mean(p.grad) for n, p in task.named_parameters() if p.grad is not None}
    return {
        "loss": all_reduce_mean(out["loss"].detach()),
        "token": all_reduce_mean(out["loss_token"]),
        "grads": grads,
        "buffers": {n: b.clone() for n, b in task.named_buffers() if b.is_floating_point()},
    }
