"""Load Hugging Face ``transformers`` VideoMAE encoder weights into :class:`~sparse_core.models.VideoViT`.

Accepted state dicts: ``VideoMAEModel`` (keys ``embeddings.*``, ``encoder.*``, ``layernorm.*``),
``VideoMAEForVideoClassification`` (``videomae.*`` plus ``fc_norm.*`` and ``classifier.*``) and
``VideoMAEForPreTraining`` (``videomae.*``; decoder keys are ignored). Both attention layouts are understood:
current ``query.bias`` / ``value.bias`` and older ``q_bias`` / ``v_bias`` parameters. VideoMAE has no key
bias, so ``qkv.bias`` gets zeros in the key slice (a key bias adds the same score to every key of a query,
which softmax ignores, so it stays without effect when trained).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from .video_vit import VideoViT

__all__ = ["load_videomae_weights", "convert_videomae_state_dict"]

_SIMPLE = {
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
    "fc_norm.weight": "fc_norm.weight",
    "fc_norm.bias": "fc_norm.bias",
    "classifier.weight": "head.weight",
    "classifier.bias": "head.bias",
}
_LAYER = {
    "attention.output.dense": "attn.proj",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}
_LAYER_RE = re.compile(r"^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")


def _strip_prefix(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        if key.startswith("decoder.") or key.startswith("encoder_to_decoder") or key == "mask_token":
            continue  # VideoMAEForPreTraining decoder parts
        out[key.removeprefix("videomae.")] = value
    return out


def convert_videomae_state_dict(hf_state_dict: Mapping[str, Tensor], embed_dim: int) -> dict[str, Tensor]:
    """Rename and fuse Hugging Face VideoMAE weights into :class:`VideoViT` keys.

    Args:
        hf_state_dict: A ``state_dict()`` of a transformers VideoMAE model.
        embed_dim: Model width D (to build the zero key bias when needed).

    Returns:
        A state dict in :class:`VideoViT` naming (``qkv.weight`` is ``(3D, D)``, query/key/value stacked).
    """
    sd = _strip_prefix(hf_state_dict)
    out: dict[str, Tensor] = {}
    attn: dict[int, dict[str, Tensor]] = {}
    for key, value in sd.items():
        if key in _SIMPLE:
            out[_SIMPLE[key]] = value
            continue
        match = _LAYER_RE.match(key)
        if match is None:
            old_bias = re.match(r"^encoder\.layer\.(\d+)\.attention\.attention\.([qv])_bias$", key)
            if old_bias is not None:
                attn.setdefault(int(old_bias.group(1)), {})[f"{old_bias.group(2)}_bias"] = value
            continue
        layer, name, kind = int(match.group(1)), match.group(2), match.group(3)
        if name.startswith("attention.attention."):
            proj = name.rsplit(".", 1)[-1]  # query | key | value
            attn.setdefault(layer, {})[f"{proj[0]}_{kind}"] = value
        elif name in _LAYER:
            out[f"blocks.{layer}.{_LAYER[name]}.{kind}"] = value
    for layer, parts in attn.items():
        out[f"blocks.{layer}.attn.qkv.weight"] = torch.cat([parts["q_weight"], parts["k_weight"], parts["v_weight"]])
        if "q_bias" in parts or "v_bias" in parts:
            ref = parts["q_weight"]
            zeros = torch.zeros(embed_dim, dtype=ref.dtype, device=ref.device)
            out[f"blocks.{layer}.attn.qkv.bias"] = torch.cat(
                [parts.get("q_bias", zeros), parts.get("k_bias", zeros), parts.get("v_bias", zeros)]
            )
    return out


def load_videomae_weights(model: VideoViT, hf_state_dict: Mapping[str, Tensor], strict: bool = True) -> list[str]:
    """Load a transformers VideoMAE encoder (and optional classifier) into ``model``.

    The position table is not in VideoMAE's state dict; ``model`` must be built with
    ``pos_embed_type="sincos"`` (the same table) and VideoMAE's layout: ``norm_eps=config.layer_norm_eps``,
    ``use_mean_pooling=config.use_mean_pooling``, ``qkv_bias=config.qv_bias``.

    Args:
        model: Target model.
        hf_state_dict: ``state_dict()`` of ``VideoMAEModel`` / ``VideoMAEForVideoClassification`` /
            ``VideoMAEForPreTraining``.
        strict: Raise if an encoder weight of ``model`` is not provided (the classifier ``head``, ``fc_norm``,
            ``mask_token`` and ``cls_token`` may be absent: they stay as initialised).

    Returns:
        Names of ``model`` parameters left as initialised.
    """
    converted = convert_videomae_state_dict(hf_state_dict, model.embed_dim)
    own = model.state_dict()
    if model.pos_embed_type != "sincos":
        raise ValueError("VideoMAE uses the fixed sinusoid table; build the model with pos_embed_type='sincos'")
    if "blocks.0.attn.qkv.bias" in own and "blocks.0.attn.qkv.bias" not in converted:
        for i in range(len(model.blocks)):
            converted[f"blocks.{i}.attn.qkv.bias"] = torch.zeros_like(own[f"blocks.{i}.attn.qkv.bias"])
    unexpected = sorted(set(converted) - set(own))
    if unexpected:
        raise KeyError(f"VideoMAE weights with no place in the model: {unexpected[:8]}")
    for key, value in converted.items():
        if value.shape != own[key].shape:
            raise ValueError(
                f"shape mismatch for {key}: checkpoint {tuple(value.shape)} vs model {tuple(own[key].shape)}"
            )
    missing = sorted(set(own) - set(converted))
    optional = ("head.", "fc_norm.", "mask_token", "cls_token")
    if strict and [k for k in missing if not k.startswith(optional)]:
        raise KeyError(f"model weights missing from the VideoMAE state dict: {missing[:8]}")
    model.load_state_dict(converted, strict=False)
    return missing
