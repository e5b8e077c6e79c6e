"""Safe weight files: export to safetensors, load checkpoints without unpickling code.

* :func:`save_weights` writes a model's (or a state dict's) tensors to ``.safetensors`` with string
  metadata, atomically (temp file + rename).
* :func:`load_weights` loads such a file into a model and reports missing / unexpected keys.
* :func:`load_checkpoint_file` reads ``.safetensors`` with safetensors and ``.pt`` / ``.pth`` /
  ``.bin`` / ``.ckpt`` with ``torch.load(weights_only=True)``, so no arbitrary code can run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


class LoadResult(NamedTuple):
    """Keys that did not match when loading weights."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _storage_key(t: Tensor) -> tuple[str, int]:
    return (str(t.device), t.untyped_storage().data_ptr())


def _prepare_state_dict(state: Mapping[str, Any]) -> dict[str, Tensor]:
    """Detached, CPU, contiguous tensors; tensors sharing memory are cloned so each owns its storage.

    safetensors refuses aliased tensors (tied embeddings, views); cloning keeps every key, so the file
    loads with a plain ``load_state_dict`` at the cost of storing tied weights twice.
    """
    out: dict[str, Tensor] = {}
    seen: set[tuple[str, int]] = set()
    for name, value in state.items():
        if not isinstance(value, Tensor):
            raise TypeError(
                f"save_weights: state dict entry {name!r} is {type(value).__name__}, not a Tensor"
            )
        t = value.detach()
        key = _storage_key(t)
        shared = key in seen and t.numel() > 0
        seen.add(key)
        t = t.to("cpu")
        if shared or not t.is_contiguous() or t.untyped_storage().nbytes() != t.numel() * t.element_size():
            t = t.contiguous().clone()
        out[name] = t
    return out


def save_weights(
    model_or_state_dict: nn.Module | Mapping[str, Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write weights to a safetensors file (atomic: written to a temp file, then renamed).

    Args:
        model_or_state_dict: A module (its ``state_dict()``, DDP/compile ``module.`` wrappers are not
            unwrapped: pass the inner module) or a mapping name -> tensor.
        path: Output file (``.safetensors`` recommended).
        metadata: String key/values stored in the header (e.g. model name, config); ``"format": "pt"``
            is added.

    Returns:
        The written path.

    Raises:
        TypeError: A metadata key/value or a state dict entry of the wrong type.
    """
    state = (
        model_or_state_dict.state_dict()
        if isinstance(model_or_state_dict, nn.Module)
        else model_or_state_dict
    )
    meta = {"format": "pt"}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save_weights: metadata must map str to str, got {k!r}: {type(v).__name__}")
        meta[k] = v
    tensors = _prepare_state_dict(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the string metadata stored in a safetensors header."""
    with safe_open(os.fspath(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_checkpoint_file(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint or weight file safely.

    ``.safetensors`` -> dict of tensors; ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt`` ->
    ``torch.load(weights_only=True)`` (tensors, containers and primitive types only; a pickle that
    needs arbitrary classes is rejected by torch).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Unknown suffix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return dict(load_file(os.fspath(path), device=str(map_location)))
    if suffix in _TORCH_SUFFIXES:
        obj = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(obj, dict):
            raise ValueError(f"{path} holds a {type(obj).__name__}, expected a dict")
        return obj
    raise ValueError(
        f"unknown checkpoint suffix {suffix!r} for {path}; expected .safetensors or {_TORCH_SUFFIXES}"
    )


def load_weights(
    model: nn.Module, path: str | os.PathLike[str], strict: bool = True, prefix: str = ""
) -> LoadResult:
    """Load a weight file (see :func:`load_checkpoint_file`) into ``model``.

    A torch checkpoint wrapping the weights as ``{"model": state_dict}`` or ``{"state_dict": ...}``
    is unwrapped. Shapes must match.

    Args:
        model: Target module.
        path: ``.safetensors`` / ``.pt`` / ``.pth`` file.
        strict: Raise ``RuntimeError`` if keys do not match exactly.
        prefix: Only keys starting with ``prefix`` are used, with the prefix removed (e.g.
            ``"backbone."`` to load an encoder out of a full model's weights).

    Returns:
        :class:`LoadResult` with ``missing_keys`` and ``unexpected_keys`` (empty when ``strict``).
    """
    state = load_checkpoint_file(path)
    for key in ("model", "state_dict"):
        if key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    res = model.load_state_dict(state, strict=strict)
    return LoadResult(list(res.missing_keys), list(res.unexpected_keys))
