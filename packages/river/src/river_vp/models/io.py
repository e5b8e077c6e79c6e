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
from sparse_core.export import read_metadata, read_state_dict, save_weights

__all__ = ["AE_FILE", "FLOW_FILE", "load_river", "load_vqgan", "save_river", "save_vqgan"]

AE_FILE = "vqgan.safetensors"
FLOW_FILE = "river.safetensors"


def _resolve(path: str | Path, name: str) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass a run folder holding {name} or the file itself")
    return path


def save_vqgan(model: VQGAN, path: str | Path) -> Path:
    """Write the autoencoder's weights and architecture (``{"vqgan": VQGANConfig}`` in the header)."""
    meta = {"vqgan": json.dumps(dataclasses.asdict(model.cfg))}
    return save_weights(model, path, metadata=meta)


def load_vqgan(path: str | Path) -> VQGAN:
    """Load a VQGAN saved by :func:`save_vqgan` (a run folder or the ``.safetensors`` file), in eval mode."""
    path = _resolve(path, AE_FILE)
    cfg = VQGANConfig(**json.loads(read_metadata(path)["vqgan"]))
    model = VQGAN(cfg)
    model.load_state_dict(read_state_dict(path))
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
    model = VectorFieldRegressor(VectorFieldConfig(**json.loads(meta["model"])))
    model.load_state_dict(read_state_dict(path))
    spec = ConditionSpec(**json.loads(meta["condition"]))
    return model.eval(), spec, float(meta["sigma_min"]), json.loads(meta.get("extra", "{}"))


def count_parameters(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
