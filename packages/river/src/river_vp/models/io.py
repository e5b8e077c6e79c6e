"""Saving and loading trained river-vp networks as safetensors with their architecture in the header."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from torch import nn

from river_vp.flow.conditioning import ConditionSpec
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from river_vp.models.vqgan import VQGAN, VQGANConfig
from sparse_core.data.errors import MissingFileError, WeightsFileError
from sparse_core.export import read_metadata, read_state_dict, save_weights

__all__ = ["AE_FILE", "FLOW_FILE", "load_river", "load_vqgan", "save_river", "save_vqgan"]

AE_FILE = "vqgan.safetensors"
FLOW_FILE = "river.safetensors"


def _resolve(path: str | Path, name: str) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise MissingFileError(f"{path} not found: pass a run folder holding {name} or the file itself")
    return path


def _architecture(meta: dict[str, str], key: str, path: Path, what: str) -> dict[str, Any]:
    """The JSON architecture stored under ``key`` in a safetensors header, or a one-line error naming the file."""
    try:
        return dict(json.loads(meta[key]))
    except (KeyError, ValueError, TypeError) as err:
        raise WeightsFileError(f"{path} is not a valid {what} weights file: its header holds no readable "
                               f"'{key}' architecture ({type(err).__name__}: {err})") from None


def save_vqgan(model: VQGAN, path: str | Path) -> Path:
    """Write the autoencoder's weights and architecture (``{"vqgan": VQGANConfig}`` in the header)."""
    meta = {"vqgan": json.dumps(dataclasses.asdict(model.cfg))}
    return save_weights(model, path, metadata=meta)


def load_vqgan(path: str | Path) -> VQGAN:
    """Load a VQGAN saved by :func:`save_vqgan` (a run folder or the ``.safetensors`` file), in eval mode."""
    path = _resolve(path, AE_FILE)
    cfg = VQGANConfig(**_architecture(read_metadata(path), "vqgan", path, "river-vp VQGAN"))
    model = VQGAN(cfg)
    _load(model, read_state_dict(path), path)
    return model.eval()


def save_river(
    model: VectorFieldRegressor,
    path: str | Path,
    spec: ConditionSpec,
    sigma_min: float,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the vector field with its architecture, conditioning spec and sigma_min in the header."""
    meta = {
        "model": json.dumps(dataclasses.asdict(model.cfg)),
        "condition": json.dumps(dataclasses.asdict(spec)),
        "sigma_min": repr(float(sigma_min)),
        "extra": json.dumps(extra or {}),
    }
    return save_weights(model, path, metadata=meta)


def load_river(path: str | Path) -> tuple[VectorFieldRegressor, ConditionSpec, float, dict[str, Any]]:
    """Load ``(model in eval mode, condition spec, sigma_min, extra)`` saved by :func:`save_river`."""
    path = _resolve(path, FLOW_FILE)
    meta = read_metadata(path)
    model = VectorFieldRegressor(VectorFieldConfig(**_architecture(meta, "model", path, "river-vp flow")))
    _load(model, read_state_dict(path), path)
    spec = ConditionSpec(**_architecture(meta, "condition", path, "river-vp flow"))
    return model.eval(), spec, float(meta["sigma_min"]), json.loads(meta.get("extra", "{}"))


def _load(model: nn.Module, state: dict[str, Any], path: Path) -> None:
    """``load_state_dict``; a file whose tensors do not fit its own header's architecture is a one-line error."""
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WeightsFileError(f"{path} is not a valid weights file for the architecture in its header "
                               f"({first})") from None


def count_parameters(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
