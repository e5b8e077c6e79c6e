"""Backbone initialisation from local checkpoints: VideoMAE (Hugging Face format) or V-JEPA (Table 6.2).

Files are read by :func:`sparse_core.export.read_state_dict` (``weights_only``; a Hugging Face folder, a
``.safetensors`` / ``.bin`` file or a ``.pth.tar``). VideoMAE goes through sparse-core's key mapping
(:func:`sparse_core.models.load_videomae_weights`). V-JEPA
(facebookresearch/jepa) encoder checkpoints are ``torch.save`` dicts whose ``"target_encoder"`` (EMA, what
V-JEPA evaluates) or ``"encoder"`` entry holds the state dict with keys, after removing the ``module.`` and
``backbone.`` prefixes, that already match VideoViT's::

    patch_embed.proj.{weight,bias}      -> vit.patch_embed.proj.*   (Conv3d tubelets 2 x 16 x 16)
    pos_embed            (1, N, D)      -> vit.pos_embed            (fixed 3-D sin-cos; needs pos_embed_type=learned)
    blocks.{i}.norm1 / attn.qkv / attn.proj / norm2 / mlp.fc1 / mlp.fc2 -> vit.blocks.{i}.*
    norm.{weight,bias}                  -> vit.norm.*

The CLS token, the MSK token and the heads are not in either checkpoint and start as initialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from sparse_core.config import ConfigError
from sparse_core.data.errors import WeightsFileError
from sparse_core.export import extract_state_dict, read_state_dict
from sparse_core.models import load_videomae_weights
from vidrop.config import InitConfig
from vidrop.model import ViDROPEncoder

__all__ = ["load_init", "vjepa_to_videovit"]

INIT_KINDS = ("random", "videomae", "vjepa")
VJEPA_KEYS = ("target_encoder", "encoder")
"""Entries of a V-JEPA checkpoint holding an encoder: the EMA target (what V-JEPA evaluates), else the online."""
VJEPA_PREFIXES = ("module.", "backbone.")
"""Wrapper prefixes of V-JEPA's encoder keys (DDP, then its MultiMaskWrapper)."""


def vjepa_to_videovit(checkpoint: Mapping[str, Any], key: str = "target_encoder") -> dict[str, Tensor]:
    """Map a V-JEPA checkpoint to VideoViT parameter names (see the module docstring).

    Args:
        checkpoint: the loaded ``torch.save`` dict (or a bare encoder state dict).
        key: which encoder to take when several are stored (``"target_encoder"``, else ``"encoder"``).
    """
    return extract_state_dict(checkpoint, unwrap=(key, *VJEPA_KEYS), strip=VJEPA_PREFIXES,
                              source="V-JEPA checkpoint")


def load_init(encoder: ViDROPEncoder, cfg: InitConfig) -> list[str]:
    """Initialise ``encoder`` as ``cfg`` says; returns the encoder parameters left as initialised."""
    if cfg.kind not in INIT_KINDS:
        raise ConfigError(f"init.kind must be one of {INIT_KINDS}, got {cfg.kind!r}")
    if cfg.kind == "random":
        return []
    if cfg.path is None:
        raise ConfigError(f"init.kind={cfg.kind!r} needs init.path (a local checkpoint file or folder)")
    if cfg.kind == "videomae":
        missing = load_videomae_weights(encoder.vit, read_state_dict(cfg.path), strict=False)
        return ["cls_token", *(f"vit.{m}" for m in missing if m != "cls_token")]
    if encoder.vit.pos_embed_type != "learned":
        raise ConfigError("V-JEPA's position table is part of its checkpoint: set encoder.pos_embed_type=learned")
    sd = read_state_dict(cfg.path, unwrap=VJEPA_KEYS, strip=VJEPA_PREFIXES)
    own = encoder.vit.state_dict()
    unexpected = sorted(set(sd) - set(own))
    if unexpected:
        raise WeightsFileError(f"{cfg.path} is not a V-JEPA encoder checkpoint VideoViT can load: weights with no "
                               f"place in VideoViT {unexpected[:8]}")
    for name, value in sd.items():
        if value.shape != own[name].shape:
            raise ConfigError(f"{cfg.path}: shape mismatch for {name}: checkpoint {tuple(value.shape)} vs model "
                              f"{tuple(own[name].shape)} (check encoder.* against the V-JEPA config)")
    encoder.vit.load_state_dict(sd, strict=False)
    return ["cls_token", *(f"vit.{m}" for m in sorted(set(own) - set(sd)) if m != "cls_token")]
