"""The model variants of thesis Table 7.8 (and the full-batch row of Table 7.10) as config overrides.

Each variant is a list of ``--key value`` overrides on top of a run's config (``sfclip-train --config X
<overrides>``); row 1 is the default. Rows 7-8 halve / double the distillation rate: the thesis states one
"subset ratio" (12.5 %) while its default distils 1024 images and 512 texts of 4096 (25 % / 12.5 %), so both
ratios are scaled. "No text teacher" (row 2, embedding projection N/A) keeps the teacher's tokenizer only.
"""

from __future__ import annotations

__all__ = ["VARIANTS", "variant_overrides"]

VARIANTS: dict[str, tuple[str, list[str]]] = {
    "default": ("row 1: text + image teacher, text masking, word-embedding projection", []),
    "no_text_teacher": ("row 2: no text teacher (learned embeddings, tokenizer only)",
                        ["--distill.text_ratio", "0", "--text.word_embedding_projection", "false"]),
    "no_text_mask": ("row 3: no text masking", ["--distill.text_mask_ratio", "0"]),
    "no_embedding_projection": ("row 4: learned word embeddings instead of the projection",
                                ["--text.word_embedding_projection", "false"]),
    "no_image_teacher": ("row 5: no image teacher", ["--teacher.vision", "[]"]),
    "image_mask": ("row 6: image masking (50 % of the distilled images' patches)",
                   ["--distill.image_mask_ratio", "0.5"]),
    "half_subset": ("row 7: half the distillation rate (12.5 % images, 6.25 % texts)",
                    ["--distill.image_ratio", "0.125", "--distill.text_ratio", "0.0625"]),
    "double_subset": ("row 8: double the distillation rate (50 % images, 25 % texts)",
                      ["--distill.image_ratio", "0.5", "--distill.text_ratio", "0.25"]),
    "full_batch": ("Table 7.10: distillation on the full batch",
                   ["--distill.image_ratio", "1", "--distill.text_ratio", "1"]),
    "clip": ("plain CLIP on the same towers (no distillation)",
             ["--distill.image_ratio", "0", "--distill.text_ratio", "0"]),
}
"""``{name: (what it is, CLI overrides)}``."""


def variant_overrides(name: str) -> list[str]:
    """The CLI overrides of variant ``name``.

    Raises:
        KeyError: an unknown name (the message lists the valid ones).
    """
    if name not in VARIANTS:
        raise KeyError(f"unknown SF-CLIP variant {name!r}; valid: {', '.join(VARIANTS)}")
    return list(VARIANTS[name][1])
