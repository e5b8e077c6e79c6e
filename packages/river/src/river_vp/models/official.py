"""Loading a vector field trained with the public RIVER code (github.com/Araachie/river) from a local file.

The official checkpoint (``torch.save({"model": Model.state_dict(), ...})``, keys optionally prefixed with
``module.``) holds the VQGAN under ``ae.*`` (load it with :func:`river_vp.models.checkpoints.load_vqgan_checkpoint`)
and the vector field under ``vector_field_regressor.*``. The field maps onto
:class:`~river_vp.models.uvit.VectorFieldRegressor` with ``layout="official"``:

=================================================  ==============================================
official key (after ``vector_field_regressor.``)    river_vp key
=================================================  ==============================================
``project_in.1.*``                                 ``project_in.*``
``time_projection.{0,2}.*`` (MLP of log distance)  ``dist_embed.{0,2}.*``
``position_encoding.{row,col}_embed.weight``       ``pos_embed`` (token ``(i, j)``: ``[col[j], row[i]]``)
``{in,mid}_blocks.N.`` / ``out_blocks.N.1.``       ``{in,mid,out}_blocks.N.`` with the renames below
  ``self_attn.in_proj_{weight,bias}``              ``attn.qkv.{weight,bias}``
  ``self_attn.out_proj.*``                         ``attn.proj.*``
  ``linear1.* linear2.*``                          ``mlp.fc1.* mlp.fc2.*``
  ``norm1.* norm2.*``                              ``norm1.* norm2.*``
``out_blocks.N.0.*`` (long skip, ``[skip, x]``)    ``skip_proj.N.*`` (input halves swapped: ``[x, skip]``)
``project_out.{0,2,4}.*`` (``out_norm: ln``)       ``out_linear.* out_norm.* out_conv.*``
=================================================  ==============================================

:func:`load_official_river` returns the conditioning with the weights: :func:`official_condition_spec`
(context distance ``(tau - 1) - c``, a context index per sample at every NFE), which the official layout
embeds as ``MLP(log d)``. The architecture is read from the tensor shapes, except the latent side (the
official learned positions are a table of rows and columns, larger than the grid) and the heads (8 in the
official code). Reading the official code for these facts only; nothing of it is copied.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor

from river_vp.flow.conditioning import ConditionSpec, official_condition_spec
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from sparse_core.data.errors import WeightsFileError
from sparse_core.export import read_state_dict

__all__ = ["FIELD_PREFIX", "OFFICIAL_HEADS", "OFFICIAL_SIGMA", "load_official_river", "map_official_field_keys",
           "official_field_config"]

FIELD_PREFIX = "vector_field_regressor."
OFFICIAL_HEADS = 8
"""Attention heads of every block in the official code (``nn.TransformerEncoderLayer(nhead=8)``)."""
OFFICIAL_SIGMA = 1e-7
"""sigma_min of every public RIVER config (``model.sigma``)."""


def _weight_and_bias(*pairs: tuple[str, str]) -> dict[str, str]:
    """``{"<official>.weight": "<ours>.weight", "<official>.bias": "<ours>.bias"}`` for each module pair."""
    return {f"{a}.{p}": f"{b}.{p}" for a, b in pairs for p in ("weight", "bias")}


_LAYER = {"self_attn.in_proj_weight": "attn.qkv.weight", "self_attn.in_proj_bias": "attn.qkv.bias",
          **_weight_and_bias(("self_attn.out_proj", "attn.proj"), ("linear1", "mlp.fc1"), ("linear2", "mlp.fc2"),
                             ("norm1", "norm1"), ("norm2", "norm2"))}
_FIXED = _weight_and_bias(("project_in.1", "project_in"), ("time_projection.0", "dist_embed.0"),
                          ("time_projection.2", "dist_embed.2"), ("project_out.0", "out_linear"),
                          ("project_out.2", "out_norm"), ("project_out.4", "out_conv"))


def _field_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The vector field's tensors, prefixes (``module.``, ``vector_field_regressor.``) stripped (a state dict of
    the field alone is returned as it is)."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith(FIELD_PREFIX):
            out[key[len(FIELD_PREFIX):]] = value
    if not out and "project_in.1.weight" in state:
        return state
    if not out:
        raise WeightsFileError(f"no '{FIELD_PREFIX}*' tensors: not a checkpoint of the official RIVER code")
    return out


def _count(state: dict[str, Tensor], pattern: str) -> int:
    return len({m.group(1) for k in state if (m := re.match(pattern, k))})


def official_field_config(state: dict[str, Tensor], state_size: int) -> VectorFieldConfig:
    """The :class:`VectorFieldConfig` (``layout="official"``) of an official state dict.

    Args:
        state: the vector field's tensors (official names, with or without prefixes).
        state_size: latent side H/f (the official ``state_res``, e.g. 8 for BAIR 64x64 with f8).

    Raises:
        WeightsFileError: not an official field, or one this layout cannot hold (``out_norm: bn``, no reference).
    """
    field = _field_state(state)
    if "project_out.3.running_mean" in field or "project_out.3.weight" in field:
        raise WeightsFileError("official field with out_norm 'bn' is not supported (only 'ln')")
    try:
        width, cat_channels = field["project_in.1.weight"].shape
        channels = field["project_out.4.weight"].shape[0]
        mlp = field["in_blocks.0.linear1.weight"].shape[0] if "in_blocks.0.linear1.weight" in field else 4 * width
    except KeyError as err:
        raise WeightsFileError(f"official RIVER field lacks {err}: not a complete checkpoint") from None
    if cat_channels != 3 * channels:
        raise WeightsFileError(f"official field without reference frame (project_in takes {cat_channels} = "
                               f"2 x {channels} channels) is not supported: its conditioning is not the official "
                               "'river' form")
    return VectorFieldConfig(
        state_channels=channels, state_size=state_size, num_conditions=2, width=width,
        depth_in=_count(field, r"in_blocks\.(\d+)\."), depth_mid=_count(field, r"mid_blocks\.(\d+)\."),
        num_heads=OFFICIAL_HEADS, mlp_ratio=mlp / width, patch_size=1, layout="official")


def map_official_field_keys(state: dict[str, Tensor], state_size: int) -> dict[str, Tensor]:
    """Rename (and, for positions and skips, rearrange) an official field to ``layout="official"`` keys.

    Args:
        state: official tensors (the field's, or a whole ``Model`` state dict with its prefixes).
        state_size: latent side H/f; the grid of learned positions built from the row / column tables.

    Returns:
        a state dict for :class:`VectorFieldRegressor` (see the module table).
    """
    field = _field_state(state)
    out: dict[str, Tensor] = {}
    for key, value in field.items():
        if key in _FIXED:
            out[_FIXED[key]] = value
        elif m := re.fullmatch(r"(in_blocks|mid_blocks)\.(\d+)\.(.+)", key):
            out[f"{m.group(1)}.{m.group(2)}.{_LAYER[m.group(3)]}"] = value
        elif m := re.fullmatch(r"out_blocks\.(\d+)\.1\.(.+)", key):
            out[f"out_blocks.{m.group(1)}.{_LAYER[m.group(2)]}"] = value
        elif m := re.fullmatch(r"out_blocks\.(\d+)\.0\.(weight|bias)", key):
            if m.group(2) == "weight":  # official input [skip, x]; ours [x, skip]
                half = value.shape[1] // 2
                value = torch.cat([value[:, half:], value[:, :half]], dim=1)
            out[f"skip_proj.{m.group(1)}.{m.group(2)}"] = value
    rows, cols = field["position_encoding.row_embed.weight"], field["position_encoding.col_embed.weight"]
    grid = torch.cat([cols[:state_size][None].expand(state_size, -1, -1),
                      rows[:state_size][:, None].expand(-1, state_size, -1)], dim=-1)  # (h, w, W): [col j, row i]
    out["pos_embed"] = grid.reshape(1, state_size * state_size, -1).contiguous()
    return out


def load_official_river(
    path: str | Path, state_size: int, trust_pickle: bool = False
) -> tuple[VectorFieldRegressor, ConditionSpec, float]:
    """Load the vector field of an official RIVER checkpoint with the official conditioning.

    Args:
        path: the official ``.pth`` (``{"model": state_dict}``) or a plain state dict file.
        state_size: latent side H/f of the checkpoint's data (BAIR 64: 8).
        trust_pickle: allow full unpickling of files that hold more than tensors.

    Returns:
        (model in eval mode, :func:`official_condition_spec`, sigma_min 1e-7): sample with them (e.g.
        ``RiverPredictor(model, spec, sigma, vqgan)``) to reproduce the official conditioning.

    Raises:
        WeightsFileError: the file holds no official field, or keys / shapes do not fit the inferred layout.
    """
    raw = read_state_dict(path, unwrap=("model", "state_dict"), strip=(), trust_pickle=trust_pickle)
    model = VectorFieldRegressor(official_field_config(raw, state_size))
    try:
        model.load_state_dict(map_official_field_keys(raw, state_size))
    except RuntimeError as err:
        raise WeightsFileError(f"{path}: official RIVER field does not fit ({str(err).splitlines()[0]})") from None
    return model.eval(), official_condition_spec(), OFFICIAL_SIGMA
