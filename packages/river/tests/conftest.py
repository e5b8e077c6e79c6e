"""Shared fixtures: tiny networks and a tiny saved autoencoder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from river_vp.models.io import save_vqgan
from river_vp.models.uvit import VectorFieldConfig
from river_vp.models.vqgan import VQGAN, VQGANConfig
from sparse_core.testing import torch_threads


def tiny_vqgan_config() -> VQGANConfig:
    """f4 autoencoder for 16x16 frames: 4x4x4 latents."""
    return VQGANConfig(
        ch=16,
        ch_mult=[1, 2, 2],
        num_res_blocks=1,
        attn_resolutions=[],
        resolution=16,
        z_channels=4,
        embed_dim=4,
        num_codes=32,
    )


def tiny_field_config(**kw: object) -> VectorFieldConfig:
    """Two-block U-ViT over 4x4 latents."""
    base = dict(state_channels=4, state_size=4, width=32, depth_in=1, depth_mid=0, num_heads=2)
    base.update(kw)
    return VectorFieldConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def vqgan_cfg() -> VQGANConfig:
    """Tiny autoencoder config (fixture form of :func:`tiny_vqgan_config`)."""
    return tiny_vqgan_config()


@pytest.fixture
def field_cfg():
    """Factory of tiny vector-field configs: ``field_cfg(**overrides)``."""
    return tiny_field_config


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Seed every test; one intra-op thread (tiny tensors; no OpenMP oversubscription on shared runners)."""
    torch.manual_seed(0)
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def tiny_ae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny VQGAN saved as a run folder."""
    d = tmp_path_factory.mktemp("ae")
    torch.manual_seed(0)
    save_vqgan(VQGAN(tiny_vqgan_config()), d / "vqgan.safetensors")
    return d
