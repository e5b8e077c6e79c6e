"""One autoencoder step on 2 gloo processes equals the step on 1 process: the codebook initialised from the
data (the latents of every process, the step's generator), the discriminator's BatchNorm (statistics of the
whole batch) and the GAN's adaptive weight (the gradients of the whole batch)."""

from __future__ import annotations

import pytest
import torch

from river_vp.models.vqgan import VQGANConfig
from river_vp.tasks.autoencoder import AELossConfig, AutoencoderTask
from sparse_core.engine.seeding import seeded

BATCH = 4
CASES = {  # (loss, max_steps, step): the step initialises the codebook
    "codebook_after_warm_up": (AELossConfig(disc_weight=0.0, quantize_warmup=0.5), 10, 5),
    "gan_with_adaptive_weight": (AELossConfig(disc_weight=0.5, disc_start=0, disc_ndf=8, disc_layers=2), 0, 0),
}


def _step(rank: int, world: int, cfg: VQGANConfig,
          case: str) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, float], dict[str, torch.Tensor]]:
    loss, max_steps, step = CASES[case]
    with seeded(0):
        task = AutoencoderTask(cfg, loss, max_steps)
    task.train()
    images = torch.rand(BATCH, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    b = BATCH // world
    torch.manual_seed(100 + rank)  # the engine seeds the global RNG per process: nothing may depend on it
    out = task.training_step({"image": images[rank * b:(rank + 1) * b]}, step)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    logged = {k: float(v) for k, v in out.items() if k in ("d_weight",)}
    buffers = {n: b.clone() for n, b in task.named_buffers() if b.is_floating_point()}  # BN running statistics
    return task.vqgan.quantize.embedding.weight.detach().clone(), grads, logged, buffers


@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_equal_one_process(case: str, vqgan_cfg: VQGANConfig) -> None:
    from sparse_core.testing import run_distributed

    codebook, grads, logged, buffers = _step(0, 1, vqgan_cfg, case)
    ranks = run_distributed(_step, vqgan_cfg, case, world_size=2)
    assert any("running_var" in n for n in buffers) == (case == "gan_with_adaptive_weight")
    for r_codebook, _, r_logged, r_buffers in ranks:
        torch.testing.assert_close(r_codebook, codebook, atol=1e-6, rtol=1e-5)  # every rank: one process' codes
        for key, value in logged.items():  # the adaptive weight of the whole batch on every rank
            assert r_logged[key] == pytest.approx(value, rel=1e-4), key
        for name, value in buffers.items():  # the discriminator's statistics: of the whole batch
            torch.testing.assert_close(r_buffers[name], value, atol=1e-6, rtol=1e-5, msg=name)
    assert ranks[0][1].keys() == ranks[1][1].keys() == grads.keys()
    for name, g in grads.items():  # DDP's average of the rank gradients = the single-process gradient
        torch.testing.assert_close((ranks[0][1][name] + ranks[1][1][name]) / 2, g, atol=1e-6, rtol=1e-4)
