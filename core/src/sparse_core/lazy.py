"""Lazy package attributes (PEP 562), so ``import sparse_core`` and a CLI's ``--help`` load no torch.

A package ``__init__`` lists ``name -> submodule`` and sets ``__getattr__ = lazy_getattr(__name__, EXPORTS)``;
the submodule is imported on first access of the name, and the value cached in the package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``exports[name]`` (a submodule, relative to ``package``) on first use.

    Raises (from the returned function):
        AttributeError: ``name`` is neither exported nor a submodule of ``package``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            try:
                value: Any = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
