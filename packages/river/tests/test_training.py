"""Training steps: the vector field learns on tiny data; the VQGAN step gives each network its gradient."""

from __future__ import annotations

import pytest
import torch

from river_vp.data.latent_cache import LatentCache, LatentCacheWriter, LatentFlowDataset
from river_vp.flow.conditioning import ConditionSpec
from river_vp.tasks.autoencoder import AELossConfig, AutoencoderTask
from river_vp.tasks.flow import RiverTask


def test_vector_field_loss_decreases(field_cfg) -> None:
    torch.manual_seed(0)
    # a target that is a fixed function of the conditions (a slowly fading frame): learnable in seconds
    task = RiverTask(field_cfg(width=32), sigma_min=1e-4)
    opt = torch.optim.AdamW(task.parameters(), lr=5e-3)
    ref = torch.randn(16, 4, 4, 4)
    batch = {
        "target": 0.9 * ref,
        "conds": torch.stack([ref, 1.1 * ref], 1),
        "dists": torch.tensor([[1, 2]]).expand(16, 2),
    }
    losses = []
    for step in range(90):
        torch.manual_seed(step)
        loss = task.training_step(batch, step)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.6 * first, (first, last)


def test_condition_dropout_replaces_conditions(field_cfg) -> None:
    task = RiverTask(field_cfg(), cond_noise_prob=1.0)
    seen = {}

    def spy(z, t, conds, dists):
        seen["conds"], seen["dists"] = conds, dists
        return z

    task.model.forward = spy  # type: ignore[method-assign]
    conds = torch.zeros(4, 2, 4, 4, 4)
    task.training_step(
        {"target": torch.zeros(4, 4, 4, 4), "conds": conds, "dists": torch.ones(4, 2, dtype=torch.long)}, 0
    )
    assert (seen["dists"] == 0).all() and seen["conds"].abs().sum() > 0


def test_ema_of_the_vector_field_follows_its_formula_and_is_what_is_exported(field_cfg) -> None:
    """ema <- m ema + (1 - m) model after each step, m = min(decay, (1 + step) / (10 + step)); no EMA: the model."""
    plain = RiverTask(field_cfg())
    assert plain.ema is None and plain.exported() is plain.model
    task = RiverTask(field_cfg(), ema_decay=0.999)
    assert task.exported() is task.ema.module and not any(p.requires_grad for p in task.ema.parameters())
    assert all(not n.startswith("ema.") for n, p in task.named_parameters() if p.requires_grad)  # not optimised
    before = {n: p.detach().clone() for n, p in task.ema.module.named_parameters()}
    with torch.no_grad():
        for p in task.model.parameters():
            p.add_(1.0)
    task.on_after_step(5, 100)
    m = min(0.999, 6 / 15)
    after = dict(task.model.named_parameters())
    for n, p in task.ema.module.named_parameters():
        torch.testing.assert_close(p, m * before[n] + (1 - m) * after[n].detach())


def test_autoencoder_step_separates_generator_and_discriminator_gradients(vqgan_cfg) -> None:
    task = AutoencoderTask(vqgan_cfg, AELossConfig(disc_weight=0.5, disc_start=0, disc_ndf=8, disc_layers=2))
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    out = task.training_step({"image": x}, step=0)
    assert {"loss", "l1", "codebook", "g_loss", "d_loss", "d_weight"} <= set(out)
    out["loss"].backward()
    d_grad = [p.grad.clone() for p in task.discriminator.parameters()]
    # the discriminator's gradient equals that of its hinge loss alone (no generator term leaks in)
    task.zero_grad()
    from river_vp.losses.gan import hinge_d_loss

    torch.manual_seed(0)
    rec, _ = task.vqgan(x)
    hinge_d_loss(task.discriminator(x), task.discriminator(rec.detach())).backward()
    for a, p in zip(d_grad, task.discriminator.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)


def test_autoencoder_before_disc_start_has_no_gan_terms(vqgan_cfg) -> None:
    task = AutoencoderTask(
        vqgan_cfg, AELossConfig(disc_weight=0.5, disc_start=100, disc_ndf=8, disc_layers=2)
    )
    out = task.training_step({"image": torch.rand(2, 3, 16, 16)}, step=3)
    assert "g_loss" not in out and torch.isfinite(out["loss"])


def test_discriminator_gets_its_own_lr_weight_decay_and_clip(vqgan_cfg) -> None:
    from sparse_core.engine import OptimConfig, build_optimizer
    from sparse_core.engine.optim import clip_grad_groups

    optim = OptimConfig(lr=1e-3, weight_decay=0.05)
    default = AutoencoderTask(vqgan_cfg, AELossConfig(disc_weight=0.5, disc_ndf=8, disc_layers=2))
    assert default.param_groups() is None  # defaults: the generator's settings, the engine's usual groups
    assert {g["group"] for g in build_optimizer(default, optim, 1e-3).param_groups} == {"default"}
    loss = AELossConfig(disc_weight=0.5, disc_start=0, disc_ndf=8, disc_layers=2, disc_lr_scale=0.5,
                        disc_weight_decay=0.2, disc_clip_grad=1e-4)
    task = AutoencoderTask(vqgan_cfg, loss)
    opt = build_optimizer(task, optim, 1e-3)
    disc_names = {f"discriminator.{n}" for n, _ in task.discriminator.named_parameters()}
    for g in opt.param_groups:
        is_disc = set(g["names"]) <= disc_names
        assert is_disc or not set(g["names"]) & disc_names  # no group mixes the two networks
        assert g["lr_scale"] == (0.5 if is_disc else 1.0)
        assert g["clip_grad"] == (1e-4 if is_disc else None)
        assert g["weight_decay"] in ((0.0, 0.2) if is_disc else (0.0, 0.05))  # 0.0: biases and norms
        assert not (is_disc and g["apply_wd"])  # the schedule leaves the discriminator's constant decay alone
    assert any(set(g["names"]) <= disc_names and g["weight_decay"] == 0.2 for g in opt.param_groups)
    task.training_step({"image": torch.rand(4, 3, 16, 16) * 2 - 1}, step=0)["loss"].backward()
    before = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    norms = clip_grad_groups(opt, clip_grad=1e6)  # the generator's norm is far below 1e6: not clipped
    assert norms["grad_norm/discriminator"] > 1e-4
    after = {n: p.grad for n, p in task.named_parameters() if p.grad is not None}
    disc_norm = torch.cat([after[n].flatten() for n in disc_names]).norm()
    assert float(disc_norm) == pytest.approx(1e-4, rel=1e-4)
    for n in before.keys() - disc_names:  # clipping the discriminator does not scale the generator
        assert torch.equal(after[n], before[n]), n
    assert task.find_unused_parameters(0) is False
    late = AutoencoderTask(vqgan_cfg, AELossConfig(disc_weight=0.5, disc_start=5, disc_ndf=8, disc_layers=2))
    assert [late.find_unused_parameters(s) for s in (0, 4, 5)] == [True, True, False]
    assert AutoencoderTask(vqgan_cfg, AELossConfig(disc_weight=0.0)).find_unused_parameters(0) is False


def test_latent_dataset_reads_three_frames(tmp_path) -> None:
    writer = LatentCacheWriter(tmp_path, shard_frames=10)
    videos = [torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 2, 3, 3) for n in (6, 8, 7)]
    for i, v in enumerate(videos):
        writer.add(v, f"v{i}")
    writer.close()
    cache = LatentCache(tmp_path)
    assert len(cache) == 3 and len(cache.index["shards"]) == 2
    torch.testing.assert_close(cache.video(1), videos[1])
    ds = LatentFlowDataset(cache, ConditionSpec(window=2), examples_per_video=4)
    assert len(ds) == 12
    reads = []
    orig = cache.frames
    cache.frames = lambda i, idx: reads.append(list(idx)) or orig(i, idx)  # type: ignore[method-assign]
    for i in range(12):
        item = ds[i]
        tau = item["tau"]
        assert float(item["target"][0, 0, 0]) == tau
        assert float(item["conds"][0, 0, 0, 0]) == tau - 1
        c = int(item["conds"][1, 0, 0, 0])
        assert tau - 3 <= c <= tau - 2 and int(item["dists"][1]) == tau - c
    assert all(len(r) == 3 for r in reads)


def test_cache_statistics_and_scale(tmp_path) -> None:
    writer = LatentCacheWriter(tmp_path)
    v = torch.randn(5, 2, 3, 3) * 0.25 + 0.1
    writer.add(v, "v")
    writer.close()
    cache = LatentCache(tmp_path)
    assert cache.index["stats"]["std"] == pytest.approx(float(v.double().std(unbiased=False)), rel=1e-6)
    ds = LatentFlowDataset(cache, ConditionSpec(), scale=cache.auto_scale())
    item = ds[0]
    torch.testing.assert_close(item["target"], cache.frames(0, [item["tau"]])[0] * cache.auto_scale())


@pytest.mark.parametrize("kind", ["l1", "l2", "l1+l2"])
def test_autoencoder_pixel_term_is_the_chosen_error(vqgan_cfg, kind: str) -> None:
    task = AutoencoderTask(vqgan_cfg, AELossConfig(disc_weight=0.0, pixel=kind, codebook_weight=0.0))
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    task.train()
    out = task.training_step({"image": x}, step=1)
    rec, _ = task.vqgan(x)
    d = x - rec
    want = {"l1": d.abs().mean(), "l2": d.pow(2).mean(), "l1+l2": d.abs().mean() + d.pow(2).mean()}[kind]
    torch.testing.assert_close(out["loss"], want)
    from sparse_core.config import ConfigError

    with pytest.raises(ConfigError, match="loss.pixel"):
        AELossConfig(pixel="l3")


def test_quantizer_warm_up_trains_a_plain_autoencoder_then_starts_the_codebook_from_the_encoder(vqgan_cfg) -> None:
    task = AutoencoderTask(vqgan_cfg, AELossConfig(disc_weight=0.0, quantize_warmup=0.5), max_steps=10)
    assert task.quantize_start == 5
    assert [task.find_unused_parameters(s) for s in (0, 4, 5)] == [True, True, False]  # DDP: the idle codebook
    task.train()
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    before = task.vqgan.quantize.embedding.weight.clone()
    out = task.training_step({"image": x}, step=4)
    assert out["codebook"] == 0 and torch.equal(task.vqgan.quantize.embedding.weight, before)
    with torch.no_grad():
        straight = task.vqgan.decoder(task.vqgan.post_quant_conv(task.vqgan.encode(x)))
    torch.testing.assert_close(out["l1"], (x - straight).abs().mean())
    out = task.training_step({"image": x}, step=5)
    z = task.vqgan.encode(x).detach().permute(0, 2, 3, 1).reshape(-1, vqgan_cfg.embed_dim)
    codes = task.vqgan.quantize.embedding.weight.detach()
    nearest = torch.cdist(codes, z).min(1).values  # every code sits on an encoder output (plus 1 % noise)
    assert nearest.max() < 0.05 * z.std() * vqgan_cfg.embed_dim**0.5 and out["codebook"] > 0


def test_data_prediction_takes_eq_5_8_on_the_field_of_its_output(field_cfg) -> None:
    """prediction 'data': loss = mean (field_from_data(z_t, net(z_t), t) - (z1 - (1 - s) z0))^2 with the step's
    own draws of t and z0; the saved model is wrapped back into that field by the predictor's loader."""
    from river_vp.flow.matching import conditional_path, field_from_data, target_field_from_noise
    from river_vp.tasks.flow import DataPredictionField

    task = RiverTask(field_cfg(), sigma_min=1e-3, prediction="data")
    seen = {}

    def net(z, t, conds, dists):
        seen["z"], seen["t"] = z, t
        return 0.5 * z + conds[:, 0]

    task.model.forward = net  # type: ignore[method-assign]
    z1, ref = torch.randn(4, 4, 4, 4), torch.randn(4, 4, 4, 4)
    batch = {"target": z1, "conds": torch.stack([ref, ref], 1), "dists": torch.ones(4, 2, dtype=torch.long)}
    loss = task.training_step(batch, 3)["loss"]
    t, zt = seen["t"], seen["z"]
    tt = t.reshape(-1, 1, 1, 1)
    z0 = (zt - tt * z1) / (1 - (1 - 1e-3) * tt)  # the noise the step drew, recovered from the path
    torch.testing.assert_close(zt, conditional_path(z1, z0, t, 1e-3))
    want = ((field_from_data(zt, 0.5 * zt + ref, t, 1e-3) - target_field_from_noise(z0, z1, 1e-3)) ** 2).mean()
    torch.testing.assert_close(loss, want)
    field = DataPredictionField(task.model, 1e-3)
    torch.testing.assert_close(field(zt, t, batch["conds"], batch["dists"]), field_from_data(zt, 0.5 * zt + ref, t,
                                                                                             1e-3))
    with pytest.raises(ValueError, match="prediction"):
        RiverTask(field_cfg(), prediction="x")
