"""Loading published VQGAN checkpoints (taming-transformers,
latent-diffusion ``VQModel``, RIVER) from a local file.

Key mapping (the module tree of :class:`river_vp.models.vqgan.VQGAN` reproduces taming's names):

==========================================  ==========================================
checkpoint key                              river_vp key
==========================================  ==========================================
``state_dict`` wrapper (Lightning .ckpt)    unwrapped
``first_stage_model.*`` / ``ae.*``          prefix stripped (whole latent-diffusion / RIVER models)
``encoder.* decoder.* quant_conv.*``        unchanged
``post_quant_conv.* quantize.embedding.*``  unchanged
``loss.*`` (LPIPS + discriminator)          dropped (see ``discriminator_state``)
``quantize.used`` / ``*.ema*``              dropped
==========================================  ==========================================

Files are read by :func:`sparse_core.export.read_state_dict` (``weights_only`` unless ``trust_pickle``); the
renaming above is river's own. Nothing is downloaded: pass the path of a checkpoint you have.
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from river_vp.models.vqgan import VQGAN
from sparse_core.export import read_state_dict

__all__ = ["PREFIXES", "discriminator_state", "load_vqgan_checkpoint", "map_taming_keys"]

PREFIXES = ("first_stage_model.", "ae.", "autoencoder.", "module.", "model.")
CHECKPOINT_KEYS = ("state_dict", "model", "ema")
"""Containers of the weights in published checkpoints (Lightning, plain, EMA-only), tried in order."""


def map_taming_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a taming / latent-diffusion / RIVER state dict to :class:`VQGAN` keys (see the module table)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        for prefix in PREFIXES:
            if key.startswith(prefix) and any(
                key[len(prefix) :].startswith(m)
                for m in ("encoder.", "decoder.", "quant", "post_quant", "loss.")
            ):
                key = key[len(prefix) :]
                break
        if key.startswith("loss.") or key == "quantize.used" or ".ema" in key:
            continue
        if key.split(".")[0] in ("encoder", "decoder", "quantize", "quant_conv", "post_quant_conv"):
            out[key] = value
    return out


def discriminator_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The patch discriminator's weights of a taming training checkpoint (``loss.discriminator.*``)."""
    p = "loss.discriminator."
    return {k[len(p) :]: v for k, v in state.items() if k.startswith(p)}


def load_vqgan_checkpoint(
    model: VQGAN, path: str | Path, strict: bool = True, trust_pickle: bool = False
) -> dict[str, list[str]]:
    """Load a published checkpoint into ``model`` through :func:`map_taming_keys`.

    ``trust_pickle`` allows full unpickling of Lightning ``.ckpt`` files that hold more than tensors.

    Returns:
        ``{"missing": [...], "unexpected": [...]}`` from ``load_state_dict``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        RuntimeError: ``strict`` and keys or shapes do not match (the config differs from the checkpoint's).
    """
    raw = read_state_dict(path, unwrap=CHECKPOINT_KEYS, strip=(), trust_pickle=trust_pickle)
    mapped = map_taming_keys(raw)
    result = model.load_state_dict(mapped, strict=strict)
    return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)}
