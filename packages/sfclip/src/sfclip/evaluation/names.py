"""The languages and prompt templates of SF-CLIP's evaluation, importable without torch.

``sfclip.evaluation.config`` (and so ``sfclip-eval --help``) reads its defaults from here;
:mod:`~sfclip.evaluation.shapes` and :mod:`~sfclip.evaluation.zeroshot` re-export them.
"""

from __future__ import annotations

__all__ = ["DEFAULT_TEMPLATES", "LANGUAGES", "SHORT_TEMPLATES", "SLIP_IMAGENET_TEMPLATES"]

LANGUAGES = ("en", "de", "fr", "es")
"""Languages :func:`sfclip.evaluation.shapes.translate` knows."""
SLIP_IMAGENET_TEMPLATES = ("itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
                           "a {} in a video game.", "art of the {}.", "a photo of the small {}.")
"""The 7 ImageNet prompts of SLIP (Mu et al. 2022; ``templates.json``, key ``imagenet``, of
github.com/facebookresearch/SLIP), the ensemble thesis sec. 7.3.1 uses for zero-shot ImageNet; they are the
7 prompts that CLIP's prompt-engineering notebook selected from its 80."""
DEFAULT_TEMPLATES = SLIP_IMAGENET_TEMPLATES
"""The zero-shot ensemble by default: SLIP's 7 ImageNet prompts (thesis sec. 7.3.1)."""
SHORT_TEMPLATES = ("a {}", "a photo of a {}", "a picture of a {}", "an image of a {}", "a drawing of a {}")
"""Five short prompts (this package's former default), kept as an option (``--templates``) for captions that
are not photographs, e.g. the procedural "a red circle" pairs."""
