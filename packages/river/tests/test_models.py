"""Autoencoder, quantizer, vector field, discriminator, refiner and checkpoint key mapping."""

from __future__ import annotations

import pytest
import torch

from river_vp.flow.conditioning import ConditionSpec
from river_vp.models.checkpoints import load_vqgan_checkpoint, map_taming_keys
from river_vp.models.discriminator import PatchDiscriminator
from river_vp.models.io import load_river, load_vqgan, save_river
from river_vp.models.quantizer import VectorQuantizer
from river_vp.models.refiner import RefinementNetwork, RefinerConfig
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from river_vp.models.vqgan import VQGAN, VQGANConfig
from river_vp.models.vqgan_blocks import AttnBlock


@pytest.mark.parametrize("ch_mult,factor", [([1, 2], 2), ([1, 2, 2], 4), ([1, 1, 2, 2], 8)])
def test_vqgan_round_trip_shapes(ch_mult: list[int], factor: int) -> None:
    cfg = VQGANConfig(
        ch=16,
        ch_mult=ch_mult,
        num_res_blocks=1,
        attn_resolutions=[16 // factor],
        resolution=16,
        z_channels=8,
        embed_dim=3,
        num_codes=16,
    )
    model = VQGAN(cfg)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    z = model.encode(x)
    assert z.shape == (2, 3, 16 // factor, 16 // factor) and cfg.downsample_factor == factor
    rec, qloss = model(x)
    assert rec.shape == x.shape and qloss.ndim == 0
    assert model.decode(z).shape == x.shape
    (rec.mean() + qloss).backward()
    assert model.encoder.conv_in.weight.grad is not None  # straight-through reaches the encoder


def test_quantizer_straight_through_and_losses() -> None:
    vq = VectorQuantizer(8, 3, beta=0.25)
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    zq, loss, idx = vq(z)
    e = vq.embedding.weight
    # nearest code by brute force
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 3)
    expect = torch.cdist(flat, e.detach()).argmin(1).view(2, 4, 4)
    assert torch.equal(idx, expect)
    torch.testing.assert_close(zq, vq.lookup(idx))
    # straight-through: d(sum(w * zq))/dz = w
    w = torch.randn_like(zq)
    (g,) = torch.autograd.grad((w * zq).sum(), z, retain_graph=True)
    torch.testing.assert_close(g, w)
    # loss = ||sg[z] - e||^2 + beta ||z - sg[e]||^2 (means): both equal mse(zq, z) in value
    mse = torch.mean((vq.lookup(idx) - z.detach()) ** 2)
    torch.testing.assert_close(loss, 1.25 * mse)
    # gradient split: codebook term moves codes, commitment term (x beta) moves the encoder output
    g_z, g_e = torch.autograd.grad(loss, [z, e])
    torch.testing.assert_close(g_z, 0.25 * 2 * (z - vq.lookup(idx)).detach() / z.numel())
    assert g_e.abs().sum() > 0


@pytest.mark.parametrize("num_conditions,patch", [(2, 1), (1, 2)])
def test_vector_field_shapes_and_grads(num_conditions: int, patch: int, field_cfg) -> None:
    cfg = field_cfg(num_conditions=num_conditions, patch_size=patch, depth_mid=1)
    model = VectorFieldRegressor(cfg)
    z = torch.randn(3, 4, 4, 4)
    out = model(
        z, torch.rand(3), torch.randn(3, num_conditions, 4, 4, 4), torch.randint(0, 9, (3, num_conditions))
    )
    assert out.shape == z.shape and torch.isfinite(out).all()
    out.pow(2).mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert (
        len(model.in_blocks) + len(model.mid_blocks) + len(model.out_blocks)
        == 2 * cfg.depth_in + cfg.depth_mid
    )


def test_vector_field_uses_conditions_and_distance(field_cfg) -> None:
    model = VectorFieldRegressor(field_cfg()).eval()
    z, t, c = torch.randn(1, 4, 4, 4), torch.rand(1), torch.randn(1, 2, 4, 4, 4)
    base = model(z, t, c, torch.tensor([[1, 2]]))
    assert not torch.allclose(base, model(z, t, c, torch.tensor([[1, 5]])))
    assert not torch.allclose(base, model(z, t, torch.randn_like(c), torch.tensor([[1, 2]])))


def _key_bias_has_no_effect_and_gets_no_gradient(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
                                                 biases: list[tuple[torch.nn.Parameter, slice]]) -> None:
    """Shifting every key bias ``bias[rows]`` leaves the output unchanged, and after a backward pass those entries
    have a zero gradient while the other entries of the bias still learn."""
    base = model(*inputs)
    with torch.no_grad():
        for bias, rows in biases:
            bias[rows] += torch.randn_like(bias[rows])
    torch.testing.assert_close(model(*inputs), base, atol=1e-5, rtol=1e-5)
    model(*inputs).pow(2).mean().backward()
    for bias, rows in biases:
        assert bias.grad is not None and (bias.grad[rows] == 0).all()
        others = torch.ones_like(bias.grad, dtype=torch.bool)
        others[rows] = False
        assert not others.any() or bias.grad[others].abs().sum() > 0


def test_key_biases_have_no_effect_and_get_no_gradient(field_cfg) -> None:
    """The key biases of the U-ViT (the middle third of each fused qkv bias) and of the VQGAN's attention: their
    rounding-level gradient, which Adam would turn into lr-sized random steps that differ between 1 and 2
    processes, is zeroed; the query and value biases still learn."""
    model = VectorFieldRegressor(field_cfg(depth_mid=1))
    w = model.cfg.width
    inputs = (torch.randn(3, 4, 4, 4), torch.rand(3), torch.randn(3, 2, 4, 4, 4), torch.tensor([[1, 2]] * 3))
    blocks = [*model.in_blocks, *model.mid_blocks, *model.out_blocks]
    _key_bias_has_no_effect_and_gets_no_gradient(model, inputs, [(b.attn.qkv.bias, slice(w, 2 * w)) for b in blocks])
    attn = AttnBlock(8)
    _key_bias_has_no_effect_and_gets_no_gradient(attn, (torch.randn(2, 8, 4, 4),), [(attn.k.bias, slice(None))])
    assert attn.q.bias.grad.abs().sum() > 0 and attn.v.bias.grad.abs().sum() > 0


def test_default_config_is_public_river_size() -> None:
    d = VectorFieldConfig()
    assert (d.width, 2 * d.depth_in + d.depth_mid) == (768, 13)


def test_save_load_round_trip(tmp_path, field_cfg) -> None:
    model = VectorFieldRegressor(field_cfg())
    save_river(model, tmp_path / "river.safetensors", ConditionSpec(window=3), 1e-4)
    loaded, spec, sigma, _ = load_river(tmp_path)
    assert spec.window == 3 and sigma == 1e-4
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_taming_key_mapping(tmp_path, vqgan_cfg) -> None:
    src = VQGAN(vqgan_cfg)
    # a latent-diffusion style checkpoint: prefixed weights, loss weights, Lightning wrapper
    state = {f"first_stage_model.{k}": v.clone() for k, v in src.state_dict().items()}
    state["loss.discriminator.main.0.weight"] = torch.zeros(1)
    state["loss.perceptual_loss.net.slice1.0.weight"] = torch.zeros(1)
    state["model.diffusion_model.x.weight"] = torch.zeros(1)
    torch.save({"state_dict": state, "global_step": 7}, tmp_path / "last.ckpt")
    assert set(map_taming_keys(state)) == set(src.state_dict())
    dst = VQGAN(vqgan_cfg)
    info = load_vqgan_checkpoint(dst, tmp_path / "last.ckpt")
    assert info == {"missing": [], "unexpected": []}
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(dst.eval()(x)[0], src.eval()(x)[0])
    with pytest.raises(FileNotFoundError):
        load_vqgan_checkpoint(dst, tmp_path / "missing.ckpt")


def test_vqgan_save_load(tiny_ae_dir) -> None:
    model = load_vqgan(tiny_ae_dir)
    assert not model.training and model.cfg.resolution == 16


def test_discriminator_and_refiner() -> None:
    d = PatchDiscriminator(3, ndf=8, n_layers=2)
    assert d(torch.randn(2, 3, 32, 32)).shape[:2] == (2, 1)
    r = RefinementNetwork(RefinerConfig(channels=8, num_groups=1, blocks_per_group=1, reduction=4))
    prev, dec = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(r(prev, dec), dec)  # zero-initialised tail: starts as the identity
