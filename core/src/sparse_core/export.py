"""Safe weight files: export to safetensors, load checkpoints without unpickling code.

* :func:`save_weights` writes a model's (or a state dict's) tensors to ``.safetensors`` with string
  metadata, atomically (temp file + rename).
* :func:`load_weights` loads such a file into a model and reports missing / unexpected keys.
* :func:`load_checkpoint_file` reads ``.safetensors`` with safetensors and ``.pt`` / ``.pth`` /
  ``.bin`` / ``.ckpt`` (or any file with a torch header) with ``torch.load(weights_only=True)``, so
  no arbitrary code can run.
* :func:`read_state_dict` is the one reader of weights: exported backbones, engine checkpoints,
  torch / Lightning / timm checkpoints and Hugging Face folders to a flat state dict, wrapper
  prefixes removed, optionally one sub-network selected by prefix.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from sparse_core.data.errors import MissingFileError, UntrustedPickleError, WeightsFileError
from sparse_core.filemode import set_open_mode

_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
"""Name of the temporary file :func:`save_weights` writes beside ``path`` before renaming it
(``.<name>.<random>.tmp``); a kill mid-write leaves it behind, and the Trainer removes it on start."""


def _temp_beside(path: Path) -> str:
    """A new empty temporary file in ``path``'s folder named as :data:`TEMP_NAME` describes."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp


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

    The file gets the mode ``open()`` would give it (``0o666`` less the umask), like ``config.yaml``.

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
    tmp = _temp_beside(path)
    try:
        save_file(tensors, tmp, metadata=meta)
        set_open_mode(tmp)  # mkstemp's 0600 -> what open() gives (0644 under umask 022), like config.yaml
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the string metadata stored in a safetensors header.

    Raises:
        sparse_core.data.errors.MissingFileError: ``path`` does not exist.
        sparse_core.data.errors.WeightsFileError: ``path`` is not a readable safetensors file.
    """
    if not Path(path).is_file():
        raise MissingFileError(f"weight file {path} does not exist")
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as err:  # safetensors raises SafetensorError / OSError on an empty or torn header
        raise WeightsFileError(f"{path} is not a readable safetensors file: not a valid checkpoint/weights file "
                               f"({_reason(err)})") from None


def _sniff(path: Path) -> str | None:
    """``"safetensors"``, ``"torch"`` (zip or legacy pickle) or None, from the first bytes of ``path``."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size:
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "torch"
    return None


def _reason(err: BaseException) -> str:
    """A short, one-line reason from a reader's exception, without torch's advice about ``weights_only``."""
    text = str(err)
    marker = "WeightsUnpickler error:"
    if marker in text:  # torch's message: advice to unpickle, then the actual reason
        text = text[text.index(marker) + len(marker):]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "weights_only" not in ln]
    first = lines[0].split(". ")[0] if lines else type(err).__name__
    return f"{type(err).__name__}: {first[:200]}"


def load_checkpoint_file(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    trust_pickle: bool = False,
) -> dict[str, Any]:
    """Load a checkpoint or weight file safely.

    ``.safetensors`` -> dict of tensors; ``.pt`` / ``.pth`` / ``.bin`` / ``.ckpt`` ->
    ``torch.load(weights_only=True)`` (tensors, containers and primitive types only; a pickle that
    needs arbitrary classes is rejected by torch). Any other suffix (e.g. V-JEPA's ``.pth.tar``) is
    read by its content: a safetensors header or a torch zip / pickle.

    Args:
        path: The file.
        map_location: Device the tensors are loaded to.
        trust_pickle: If ``weights_only`` loading fails, unpickle fully (runs code from the file:
            only for files you trust, e.g. Lightning ``.ckpt`` holding config objects).

    Returns:
        The stored dict.

    Raises:
        sparse_core.data.errors.MissingFileError: (a ``FileNotFoundError``) ``path`` does not exist.
        sparse_core.data.errors.WeightsFileError: (a ``ValueError``) the file is empty, truncated or
            damaged, neither safetensors nor a torch checkpoint, or holds something other than a dict;
            the message says the file is not a valid checkpoint / weights file and never advises
            unpickling it.
        sparse_core.data.errors.UntrustedPickleError: (also a ``RuntimeError``) the file stores Python
            objects besides tensors and ``trust_pickle`` is False.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint file {path} does not exist")
    if path.stat().st_size == 0:
        raise WeightsFileError(f"{path} is not a readable weight file: not a valid checkpoint/weights file "
                               "(it is empty, 0 bytes)")
    suffix = path.suffix.lower()
    kind = "safetensors" if suffix == ".safetensors" else "torch" if suffix in _TORCH_SUFFIXES else _sniff(path)
    if kind is None:
        raise WeightsFileError(
            f"unknown checkpoint suffix {suffix!r} for {path}: neither a safetensors file nor a torch "
            f"checkpoint (expected .safetensors or {_TORCH_SUFFIXES}); not a valid checkpoint/weights file"
        )
    if kind == "safetensors":
        try:
            return dict(load_file(os.fspath(path), device=str(map_location)))
        except Exception as err:
            raise WeightsFileError(f"{path} is not a readable safetensors file: not a valid checkpoint/weights "
                                   f"file ({_reason(err)})") from None
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        needs_objects = "unsupported global" in str(err).lower()
        if not needs_objects:  # a damaged pickle: torch calls it a weights-only failure too
            raise WeightsFileError(f"{path} is not a readable torch checkpoint: not a valid checkpoint/weights "
                                   f"file ({_reason(err)})") from None
        if not trust_pickle:
            found = re.search(r"GLOBAL [\w.]+", str(err))
            raise UntrustedPickleError(
                f"{path} cannot be read with weights_only=True (weights only load failed: it stores Python "
                f"objects besides tensors, {found.group(0) if found else 'a Python object'}); it is refused "
                "because reading it would run code from the file (trust_pickle=True reads it, for a file "
                "you trust)"
            ) from None
        obj = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # not a torch file: truncated zip, empty file, random bytes, ...
        raise WeightsFileError(f"{path} is not a readable torch checkpoint: not a valid checkpoint/weights file "
                               f"({_reason(err)})") from None
    if not isinstance(obj, dict):
        raise WeightsFileError(f"{path} holds a {type(obj).__name__}, expected a dict: not a valid "
                               "checkpoint/weights file")
    return obj


#: Containers that hold the weights: the engine's checkpoint (``{"task": ..., "optimizer": ...}``),
#: Lightning / timm (``"state_dict"``), DeiT / MAE style (``"model"``).
CHECKPOINT_KEYS: tuple[str, ...] = ("task", "state_dict", "model")
#: Leading key prefixes of wrappers: DistributedDataParallel / DataParallel, ``torch.compile``.
WRAPPER_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")
#: Files of a Hugging Face model folder, in order of preference.
HF_WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")


def _strip(key: str, prefixes: Sequence[str]) -> str:
    while True:
        for p in prefixes:
            if key.startswith(p):
                key = key[len(p) :]
                break
        else:
            return key


def extract_state_dict(
    checkpoint: Mapping[str, Any],
    select: str | None = None,
    unwrap: Sequence[str] = CHECKPOINT_KEYS,
    strip: Sequence[str] = WRAPPER_PREFIXES,
    source: str = "checkpoint",
) -> dict[str, Tensor]:
    """Flat state dict of a loaded checkpoint (steps 2-5 of :func:`read_state_dict`).

    Args:
        checkpoint: A loaded checkpoint dict or a bare state dict.
        select: Key prefix of the sub-network to return (removed from the keys).
        unwrap: Container keys tried in order (``()`` to use the top level).
        strip: Wrapper prefixes removed from the start of every key, repeatedly (``()`` to keep keys).
        source: What ``checkpoint`` came from, for error messages (e.g. the file name).

    Returns:
        ``{name: tensor}``.

    Raises:
        KeyError: No tensor, or none under ``select`` (the message names ``source``).
    """
    obj = checkpoint
    for key in unwrap:
        if isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    state = {_strip(k, strip): v for k, v in obj.items() if isinstance(v, Tensor)}
    if not state:
        raise KeyError(f"{source} holds no tensors (top-level keys: {sorted(obj)[:8]})")
    if select:
        state = {k[len(select) :]: v for k, v in state.items() if k.startswith(select)}
        if not state:
            raise KeyError(f"{source} holds no '{select}*' weights")
    return state


def read_state_dict(
    path: str | os.PathLike[str],
    select: str | None = None,
    unwrap: Sequence[str] = CHECKPOINT_KEYS,
    strip: Sequence[str] = WRAPPER_PREFIXES,
    trust_pickle: bool = False,
    map_location: str | torch.device = "cpu",
) -> dict[str, Tensor]:
    """Read the weights of any of the repository's weight files as a flat state dict.

    Accepts an exported ``.safetensors`` backbone (:func:`save_weights`), an engine checkpoint
    (``checkpoints/ckpt_*.pt``, whose ``"task"`` entry is the task's state dict), a torch /
    Lightning / timm checkpoint, or a Hugging Face model folder (``model.safetensors`` or
    ``pytorch_model.bin``). Steps, in order:

    1. load with :func:`load_checkpoint_file` (``weights_only=True``);
    2. unwrap the first of ``unwrap`` that is present and a dict;
    3. keep tensor entries only (drops ``"epoch"``, ``"global_step"``, ...);
    4. remove leading ``strip`` prefixes, repeatedly (``module._orig_mod.x`` -> ``x``);
    5. if ``select``, keep only the keys starting with it and remove it (e.g.
       ``"teacher.module.backbone."`` to take one network out of a task).

    Method-specific renaming (VideoMAE, taming VQGAN, ...) is left to the caller.

    Args:
        path: File or Hugging Face model folder.
        select: Key prefix of the sub-network to return (removed from the keys).
        unwrap: Container keys tried in order (``()`` to use the file's top level).
        strip: Wrapper prefixes removed from the start of every key (``()`` to keep keys).
        trust_pickle: See :func:`load_checkpoint_file`.
        map_location: Device the tensors are loaded to.

    Returns:
        ``{name: tensor}``.

    Raises:
        sparse_core.data.errors.MissingFileError: (a ``FileNotFoundError``) ``path`` (or the weight file of
            a folder) does not exist.
        ValueError: The file is neither safetensors nor a torch checkpoint.
        KeyError: No tensor in the file, or none under ``select`` (the message names the file).
    """
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in HF_WEIGHT_FILES if (path / n).is_file()]
        if not found:
            raise MissingFileError(f"{path} is a folder holding none of {HF_WEIGHT_FILES}")
        path = found[0]
    checkpoint = load_checkpoint_file(path, map_location=map_location, trust_pickle=trust_pickle)
    return extract_state_dict(checkpoint, select, unwrap, strip, source=str(path))


def load_weights(
    model: nn.Module, path: str | os.PathLike[str], strict: bool = True, prefix: str = ""
) -> LoadResult:
    """Load a weight file into ``model`` through :func:`read_state_dict`.

    Engine checkpoints (``{"task": ...}``) and ``{"model": ...}`` / ``{"state_dict": ...}`` wrappers
    are unwrapped and ``module.`` / ``_orig_mod.`` prefixes removed. Shapes must match.

    Args:
        model: Target module.
        path: ``.safetensors`` / ``.pt`` / ``.pth`` file or Hugging Face model folder.
        strict: Raise ``RuntimeError`` if keys do not match exactly.
        prefix: Only keys starting with ``prefix`` are used, with the prefix removed (e.g.
            ``"backbone."`` to load an encoder out of a full model's weights).

    Returns:
        :class:`LoadResult` with ``missing_keys`` and ``unexpected_keys`` (empty when ``strict``).
    """
    state = read_state_dict(path, select=prefix or None)
    res = model.load_state_dict(state, strict=strict)
    return LoadResult(list(res.missing_keys), list(res.unexpected_keys))
