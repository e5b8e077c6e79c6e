"""The ``device`` option of every CLI: ``'auto'`` or a torch device name, checked at parse time and resolved once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sparse_core.validation import bad_value

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICE_TYPES", "check_device", "resolve_device"]

DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla",
                "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
"""The device types ``torch.device`` accepts (its error message lists them); checked without importing torch,
so a CLI's argument errors and ``--help`` stay fast."""
_DEVICE = re.compile(rf"(?:{'|'.join(DEVICE_TYPES)})(?::(?:0|[1-9][0-9]*))?")


def check_device(key: str, value: object) -> None:
    """Refuse a ``device`` value that is neither ``'auto'`` nor a torch device name (``cpu``, ``cuda``, ``cuda:1``...).

    Raises:
        ConfigError: naming ``key`` and the valid choices.
    """
    if value == "auto":
        return
    if not (isinstance(value, str) and _DEVICE.fullmatch(value)):
        raise bad_value(key, "'auto', 'cpu', 'cuda' or 'cuda:N'", value)


def resolve_device(name: str) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; any other name as ``torch.device(name)``."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
