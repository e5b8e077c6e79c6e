"""Held-out procedural pairs for the evaluations: images, captions, classes, masks and translated captions.

The pairs are :class:`sfclip.data.ShapePairs` ("a red circle" on a flat grey background) drawn with a seed the
training run did not use. The foreground of an image is exactly the pixels of its shape's colour (the
background is grey, r = g = b in [0.35, 0.65], which no colour of :data:`sfclip.data.COLOURS` is), so the
segmentation mask is read back from the image and caption. The translations (German, French, Spanish, with
gender agreement) give the XTD10-style multilingual retrieval set of the tiny setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sfclip.data import COLOURS, ShapePairs
from sfclip.evaluation.names import LANGUAGES
from sparse_core.data.shapes import SHAPES

__all__ = ["HeldOutPairs", "held_out_pairs", "class_names", "translate", "LANGUAGES"]

# gender of each shape noun, and the noun, per language
_NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "de": {"circle": ("m", "Kreis"), "square": ("n", "Quadrat"), "triangle": ("n", "Dreieck"),
           "star": ("m", "Stern"), "cross": ("n", "Kreuz")},
    "fr": {"circle": ("m", "cercle"), "square": ("m", "carré"), "triangle": ("m", "triangle"),
           "star": ("f", "étoile"), "cross": ("f", "croix")},
    "es": {"circle": ("m", "círculo"), "square": ("m", "cuadrado"), "triangle": ("m", "triángulo"),
           "star": ("f", "estrella"), "cross": ("f", "cruz")},
}
# colour adjective per language and gender
_ADJ: dict[str, dict[str, dict[str, str]]] = {
    "de": {c: {"m": f"{a}er", "n": f"{a}es"} for c, a in {
        "red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb", "purple": "violett",
        "orange": "orangefarben", "white": "weiß", "black": "schwarz"}.items()},
    "fr": {"red": {"m": "rouge", "f": "rouge"}, "green": {"m": "vert", "f": "verte"},
           "blue": {"m": "bleu", "f": "bleue"}, "yellow": {"m": "jaune", "f": "jaune"},
           "purple": {"m": "violet", "f": "violette"}, "orange": {"m": "orange", "f": "orange"},
           "white": {"m": "blanc", "f": "blanche"}, "black": {"m": "noir", "f": "noire"}},
    "es": {"red": {"m": "rojo", "f": "roja"}, "green": {"m": "verde", "f": "verde"},
           "blue": {"m": "azul", "f": "azul"}, "yellow": {"m": "amarillo", "f": "amarilla"},
           "purple": {"m": "morado", "f": "morada"}, "orange": {"m": "naranja", "f": "naranja"},
           "white": {"m": "blanco", "f": "blanca"}, "black": {"m": "negro", "f": "negra"}},
}
_ARTICLE = {"de": {"m": "ein", "n": "ein"}, "fr": {"m": "un", "f": "une"}, "es": {"m": "un", "f": "una"}}


def translate(colour: str, shape: str, lang: str) -> str:
    """The caption "a <colour> <shape>" in ``lang`` (one of :data:`LANGUAGES`).

    Raises:
        KeyError: an unknown language, colour or shape.
    """
    if lang == "en":
        return f"a {colour} {shape}"
    gender, noun = _NOUNS[lang][shape]
    adj, art = _ADJ[lang][colour][gender], _ARTICLE[lang][gender]
    return f"{art} {adj} {noun}" if lang == "de" else f"{art} {noun} {adj}"


def class_names() -> list[str]:
    """The "<colour> <shape>" classes of the procedural pairs, colour-major."""
    return [f"{c} {s}" for c in COLOURS for s in SHAPES]


@dataclass
class HeldOutPairs:
    """Procedural pairs held out from training.

    Shape:
        images: (N, 3, S, S) in [0, 1]; colour, shape, label: (N,) long; masks: (N, S, S) bool.
    """

    images: Tensor
    captions: list[str]
    colour: Tensor
    """Index into :data:`sfclip.data.COLOURS`."""
    shape: Tensor
    """Index into ``sparse_core.data.shapes.SHAPES``."""
    label: Tensor
    """Index into :func:`class_names` (colour * len(SHAPES) + shape)."""
    masks: Tensor
    """Foreground (the shape) of each image."""

    def captions_in(self, lang: str) -> list[str]:
        """The captions translated into ``lang``."""
        names = list(COLOURS)
        return [translate(names[int(c)], SHAPES[int(s)], lang) for c, s in zip(self.colour, self.shape)]


def held_out_pairs(num_pairs: int, size: int, seed: int) -> HeldOutPairs:
    """``num_pairs`` pairs of :class:`~sfclip.data.ShapePairs` with ``seed``, their classes and masks."""
    data = ShapePairs(num_pairs, size, seed)
    names = list(COLOURS)
    images, captions, colour, shape, masks = [], [], [], [], []
    for i in range(num_pairs):
        item = data[i]
        _, c, s = item["caption"].split(" ")
        rgb = torch.tensor(COLOURS[c], dtype=torch.float32).view(3, 1, 1)
        images.append(item["image"])
        captions.append(item["caption"])
        colour.append(names.index(c))
        shape.append(SHAPES.index(s))
        masks.append((item["image"] == rgb).all(dim=0))
    colour_t, shape_t = torch.tensor(colour), torch.tensor(shape)
    return HeldOutPairs(torch.stack(images), captions, colour_t, shape_t, colour_t * len(SHAPES) + shape_t,
                        torch.stack(masks))
