"""Openclipart: public-domain clip art whose SVG metadata names it (Debian ``openclipart-svg`` + ``openclipart-png``).

Each ``<root>/svg/<rel>.svg`` carries a ``<dc:title>`` and keyword tags (``<rdf:li>`` entries of
``<dc:subject>``) inside its ``<cc:Work>`` metadata; the rendered image is ``<root>/png/<rel>.png``. A pair's
caption is the title followed by its tags, comma-separated (``"PDA, tool, computer"``): tags that say
nothing about the picture (empty ones, the Perl ``hash(0x...)`` debris of the 2005 export, ``unsorted``,
``magick``) are dropped, ``_`` reads as a space, and a tag repeating the title or an earlier tag is dropped.
The transparent PNGs are composited on white and padded to a square before resizing (the 19 posters
above :data:`MAX_PIXELS` are skipped as unreadable). The train / test split
is by file: a seeded permutation of the sorted relative paths, the first ``test_fraction`` of it held out.
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from sparse_core.data.errors import DatasetError

__all__ = ["OpenClipart", "ClipartItem", "caption_of", "read_svg_metadata", "load_rgba_on_white",
           "DEFAULT_ROOT", "PACKAGES"]

DEFAULT_ROOT = "/usr/share/openclipart"
"""Where Debian's packages install the SVGs (``svg/``) and PNGs (``png/``)."""
PACKAGES = "Debian packages openclipart-svg and openclipart-png (apt-get install openclipart-svg openclipart-png)"
"""Named in the error when the files are absent."""
_WORK = re.compile(r"<cc:Work\b[^>]*>(.*?)</cc:Work>", re.DOTALL)
_AGENT = re.compile(r"<cc:Agent\b.*?</cc:Agent>", re.DOTALL)
_TITLE = re.compile(r"<dc:title>(.*?)</dc:title>", re.DOTALL)
_SUBJECT = re.compile(r"<dc:subject>(.*?)</dc:subject>", re.DOTALL)
_LI = re.compile(r"<rdf:li>(.*?)</rdf:li>", re.DOTALL)
_NOISE = re.compile(r"^(hash(\(0x[0-9a-f]+\))?|unsorted|magick)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ClipartItem:
    """One clip-art image and its caption."""

    png: Path
    caption: str
    rel: str
    """Path relative to ``svg/`` / ``png/`` without the extension (the split is by this name)."""


def read_svg_metadata(path: str | Path, head: int = 1 << 16) -> tuple[str, list[str]]:
    """``(title, tags)`` of the SVG's ``cc:Work`` (the work's own, not its publisher's or creator's ``dc:title``).

    Only the first ``head`` bytes are read (the metadata precedes the drawing; some drawings are megabytes).
    Returns ``("", [])`` for a file without readable metadata.
    """
    try:
        with open(path, "rb") as f:
            text = f.read(head).decode("utf-8", errors="replace")
    except OSError:
        return "", []
    work = _WORK.search(text)
    if work is None:
        return "", []
    body = _AGENT.sub("", work.group(1))  # the publisher's / creator's names are dc:titles of cc:Agents
    title = _TITLE.search(body)
    subject = _SUBJECT.search(body)
    tags = [html.unescape(t).strip() for t in _LI.findall(subject.group(1))] if subject else []
    return (html.unescape(title.group(1)).strip() if title else ""), tags


def caption_of(title: str, tags: list[str]) -> str:
    """The caption: the title, then the informative tags (see the module docstring); "" when nothing is left."""
    words = [" ".join(title.split())] if title.strip() else []
    seen = {w.lower() for w in words}
    for tag in tags:
        tag = " ".join(tag.replace("_", " ").split())
        if _NOISE.match(tag) or tag.lower() in seen:
            continue
        seen.add(tag.lower())
        words.append(tag)
    return ", ".join(words)


MAX_PIXELS = 1 << 24
"""Larger PNGs are skipped as unreadable (19 of the 8121 are ~168 Mpixel posters that take seconds each)."""


def load_rgba_on_white(path: Path, size: int, max_pixels: int = MAX_PIXELS) -> torch.Tensor | None:
    """The image on a white background, padded to a centred square, resized to ``size``; None if unreadable
    or larger than ``max_pixels``.

    Shape:
        returns (3, size, size) float in [0, 1].
    """
    try:
        with warnings.catch_warnings():  # the posters' headers trip Pillow's bomb warning; they are skipped
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as raw:
                if raw.width * raw.height > max_pixels:
                    return None
                rgba = raw.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    factor = max(rgba.size) // (4 * size)
    if factor > 1:  # box-filter down first: compositing and the bicubic resize then touch few pixels
        rgba = rgba.reduce(factor)
    side = max(rgba.size)
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    canvas.alpha_composite(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2))
    im = canvas.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    return TF.to_dtype(TF.pil_to_tensor(im), torch.float32, scale=True)


class OpenClipart(Dataset):
    """Openclipart pairs of one split: ``{"image": (3, S, S), "caption": str, "index": int}``.

    Args:
        root: folder holding ``svg/`` and ``png/`` (Debian: ``/usr/share/openclipart``).
        size: image side.
        split: ``"train"`` or ``"test"``.
        test_fraction: share of the files held out for ``"test"``.
        seed: seed of the split's permutation.

    Raises:
        DatasetError: ``svg/`` or ``png/`` is missing (the message names the Debian packages), or no SVG has a
            caption and a PNG.
    """

    def __init__(self, root: str | Path = DEFAULT_ROOT, size: int = 224, split: str = "train",
                 test_fraction: float = 0.1, seed: int = 0) -> None:
        self.root, self.size = Path(root or DEFAULT_ROOT), size
        svg, png = self.root / "svg", self.root / "png"
        for folder in (svg, png):
            if not folder.is_dir():
                raise DatasetError(f"openclipart: {str(folder)!r} is missing; it ships in the {PACKAGES}")
        if split not in ("train", "test"):
            raise DatasetError(f"openclipart: split must be 'train' or 'test', got {split!r}")
        files = sorted(svg.rglob("*.svg"))
        order = np.random.default_rng(seed).permutation(len(files))
        n_test = int(round(test_fraction * len(files)))
        chosen = np.sort(order[:n_test] if split == "test" else order[n_test:])
        items = []
        for k in chosen:
            rel = files[int(k)].relative_to(svg).with_suffix("")
            image = png / rel.with_suffix(".png")
            caption = caption_of(*read_svg_metadata(files[int(k)]))
            if caption and image.is_file():
                items.append(ClipartItem(image, caption, rel.as_posix()))
        if not items:
            raise DatasetError(f"openclipart: no SVG under {str(svg)!r} with a title or tags and a PNG beside it")
        self.items = items

    def __len__(self) -> int:
        """Number of captioned images in the split."""
        return len(self.items)

    @property
    def captions(self) -> list[str]:
        """Every caption, in dataset order."""
        return [it.caption for it in self.items]

    def sample_name(self, i: int) -> str:
        """The PNG path of pair ``i`` (named in the engine's log of skipped samples)."""
        return str(self.items[i].png)

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        """Pair ``i``; None when the PNG cannot be decoded."""
        image = load_rgba_on_white(self.items[i].png, self.size)
        return None if image is None else {"image": image, "caption": self.items[i].caption, "index": int(i)}
