"""The real-caption setting of the demo and the study: openclipart pairs for training, real evaluation sets.

Training pairs are the openclipart train split (title + keyword tags, :mod:`sfclip.openclipart`) decoded once
at the student's image side and cached as uint8 (``$SFCLIP_CACHE`` or ``~/.cache/sfclip``; ~7 k images,
about a minute to decode), so every run of a study reads the same tensor. :func:`available` says whether the
Debian / PyPI packages the setting reads are installed; the demo falls back to the procedural pairs when not.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sfclip.data import InMemoryPairs
from sparse_core.data.errors import DatasetError

__all__ = ["REAL_OVERRIDES", "available", "cache_dir", "training_pairs"]

REAL_OVERRIDES = ["--data.source", "openclipart", "--text.context_length", "32"]
"""Overrides of the ``tiny`` config for openclipart captions (title + tags run longer than 16 tokens)."""


def available() -> str:
    """"" when openclipart, the emoji font and package, and Fashion-MNIST are all installed, else what is missing."""
    from sfclip.emoji_set import FONT
    from sfclip.openclipart import DEFAULT_ROOT
    from sparse_core.data.fashion_mnist import is_available

    missing = []
    if not (Path(DEFAULT_ROOT) / "svg").is_dir() or not (Path(DEFAULT_ROOT) / "png").is_dir():
        missing.append("openclipart-svg + openclipart-png (Debian)")
    if not Path(FONT).is_file():
        missing.append("fonts-noto-color-emoji (Debian)")
    try:
        import emoji  # noqa: F401
    except ImportError:
        missing.append("emoji (PyPI)")
    if not is_available():
        missing.append("dataset-fashion-mnist (Debian)")
    return ", ".join(missing)


def cache_dir() -> Path:
    """``$SFCLIP_CACHE``, else ``$XDG_CACHE_HOME/sfclip``, else ``~/.cache/sfclip``."""
    if os.environ.get("SFCLIP_CACHE"):
        return Path(os.environ["SFCLIP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sfclip"


def training_pairs(size: int, seed: int = 0, root: str = "") -> InMemoryPairs:
    """The openclipart train split (split seed ``seed``) at side ``size``, decoded once and cached.

    Raises:
        DatasetError: the packages are missing (the message names them).
    """
    from sfclip.openclipart import OpenClipart

    cache = cache_dir() / f"openclipart_train_s{size}_seed{seed}.pt"
    if cache.is_file() and not root:
        state = torch.load(cache, weights_only=True)
        pairs = InMemoryPairs.__new__(InMemoryPairs)
        pairs.images, pairs.captions = state["images"], list(state["captions"])
        return pairs
    pairs = InMemoryPairs(OpenClipart(root, size, "train", seed=seed))
    if not root:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            torch.save({"images": pairs.images, "captions": pairs.captions}, tmp)
            tmp.replace(cache)
        except OSError as err:  # a read-only home: decode again next time
            raise DatasetError(f"cannot write the decoded openclipart cache {str(cache)!r}: {err}") from err
    return pairs
