"""The ``device`` option of every CLI: ``'auto'`` or a torch device name, checked at parse time and resolved once."""

from __future__ import annotations

import torch

from sparse_core.validation import bad_value

__all__ = ["check_device", "resolve_device"]


def check_device(key: str, value: object) -> None:
    """Refuse a ``device`` value that is neither ``'auto'`` nor a torch device name (``cpu``, ``cuda``, ``cuda:1``...).

    Raises:
        ConfigError: naming ``key`` and the valid choices.
    """
    if value == "auto":
        return
    try:
        torch.device(value)  # type: ignore[call-overload]
    except (RuntimeError, TypeError, ValueError):
        raise bad_value(key, "'auto', 'cpu', 'cuda' or 'cuda:N'", value) from None


def resolve_device(name: str) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; any other name as ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
