"""Emoji rendered with Pillow, each named in 14 languages: a multilingual image-text set (XTD10-style).

The images come from Noto Color Emoji (Debian ``fonts-noto-color-emoji``; the bitmap font loads at size 109
only and draws with ``embedded_color=True``), the names from the PyPI ``emoji`` package
(``emoji.EMOJI_DATA[e][lang]`` after ``emoji.config.load_language()``; en es ja ko pt it fr de fa id zh ru tr
ar). A name ``":cara_de_perro:"`` reads ``"cara de perro"``. Kept: fully-qualified emoji that the font draws as
one glyph (a ZWJ sequence the font lacks is drawn as several, wider than one glyph) and, by default, without
skin-tone variants (five near-copies of one picture whose names differ only in the tone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError

__all__ = ["EmojiSet", "emoji_table", "emoji_name", "FONT", "EMOJI_LANGUAGES", "SKIN_TONES"]

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
"""Noto Color Emoji as Debian installs it."""
FONT_SIZE = 109
"""The one size the bitmap font loads at (its strikes are 136 x 128 pixels)."""
EMOJI_LANGUAGES = ("en", "es", "ja", "ko", "pt", "it", "fr", "de", "fa", "id", "zh", "ru", "tr", "ar")
"""Languages the ``emoji`` package names every emoji in."""
SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))
"""The five Fitzpatrick modifiers."""


def emoji_name(raw: str) -> str:
    """``":cara_de_perro:"`` -> ``"cara de perro"``."""
    return " ".join(raw.strip(":").replace("_", " ").split())


def emoji_table(languages: Sequence[str] = EMOJI_LANGUAGES) -> dict[str, dict[str, str]]:
    """``{emoji: {lang: raw name}}`` of the fully-qualified emoji from the PyPI ``emoji`` package.

    Raises:
        DatasetError: the package is not installed.
    """
    try:
        import emoji
    except ImportError:
        raise DatasetError("emoji source: the PyPI package 'emoji' is missing (pip install emoji, or "
                           "pip install 'sfclip[emoji]')") from None
    emoji.config.load_language()
    qualified = emoji.STATUS["fully_qualified"]
    return {e: {lang: d[lang] for lang in languages if lang in d}
            for e, d in emoji.EMOJI_DATA.items() if d.get("status") == qualified}


def _font(path: str | Path) -> Any:
    """The emoji font at its one size; ``""``: Pillow's default font (tests render letters with it)."""
    if not str(path):
        return ImageFont.load_default(size=64)
    if not Path(path).is_file():
        raise DatasetError(f"emoji source: font {str(path)!r} is missing; it ships in the Debian package "
                           "fonts-noto-color-emoji (apt-get install fonts-noto-color-emoji)")
    return ImageFont.truetype(str(path), FONT_SIZE)


class EmojiSet(Dataset):
    """Rendered emoji with their names per language, all rendered up front.

    Args:
        size: image side.
        languages: the caption languages; an emoji lacking a name in one of them is left out.
        table: ``{emoji: {lang: raw name}}``; default :func:`emoji_table` (tests pass a small fake table).
        font: TrueType font file (default Noto Color Emoji; ``""``: Pillow's default font).
        skin_tones: keep the skin-tone variants.
        limit: keep at most this many (a seeded random choice), 0: all.
        seed: seed of that choice.

    Shape:
        images: (N, 3, size, size) float in [0, 1] (the glyph on white, padded to a square).

    Raises:
        DatasetError: the package or the font is missing, or no emoji is left.
    """

    def __init__(self, size: int = 224, languages: Sequence[str] = ("en",),
                 table: Mapping[str, Mapping[str, str]] | None = None, font: str | Path = FONT,
                 skin_tones: bool = False, limit: int = 0, seed: int = 0) -> None:
        table = emoji_table(languages) if table is None else table
        face = _font(font)
        glyph = face.getbbox("\U0001F436") if str(font) else None  # one glyph's box (the dog face)
        kept = []
        for e, names in table.items():
            if not all(names.get(lang) for lang in languages) or (not skin_tones and SKIN_TONES & set(e)):
                continue
            if glyph is not None and face.getbbox(e) != glyph:
                continue  # drawn as several glyphs, or not at all
            kept.append(e)
        if limit and len(kept) > limit:
            pick = np.sort(np.random.default_rng(seed).choice(len(kept), limit, replace=False))
            kept = [kept[int(i)] for i in pick]
        if not kept:
            raise DatasetError(f"emoji source: no emoji with a name in each of {list(languages)}")
        self.emoji = kept
        self.names = {lang: [emoji_name(table[e][lang]) for e in kept] for lang in languages}
        self.images = torch.stack([self._render(face, e, size) for e in kept])

    @staticmethod
    def _render(face: Any, text: str, size: int) -> Tensor:
        """One emoji on white, cropped to its box, padded to a square, resized."""
        left, top, right, bottom = face.getbbox(text)
        w, h = max(right - left, 1), max(bottom - top, 1)
        side = max(w, h)
        im = Image.new("RGB", (side, side), "white")
        ImageDraw.Draw(im).text(((side - w) // 2 - left, (side - h) // 2 - top), text, font=face,
                                embedded_color=True, fill="black")
        im = im.resize((size, size), Image.Resampling.BICUBIC)
        return torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()

    def __len__(self) -> int:
        """Number of emoji kept."""
        return len(self.emoji)

    def captions_in(self, lang: str) -> list[str]:
        """The names in ``lang``, parallel to the images."""
        return list(self.names[lang])

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Emoji ``i`` captioned by its name in the first language."""
        first = next(iter(self.names))
        return {"image": self.images[i], "caption": self.names[first][i], "index": int(i)}
