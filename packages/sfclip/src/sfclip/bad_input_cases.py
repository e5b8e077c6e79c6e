"""SF-CLIP's cases of the bad-input corpus (:mod:`sparse_core.testing.corpus`): ``sfclip-train`` on unusable
pair folders and output folders, a webdataset source without shards, ``sfclip-precompute`` without a folder to
write to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sparse_core.testing.corpus import BadRun, standard_cases, unknown_key_cases

__all__ = ["cases"]

TINY = ["--config", "tiny", "--teacher.text", "bert_tiny_random", "--teacher.vision", "dinov2_tiny_random",
        "--teacher.vision_size", "48", "--train.batch_size", "4"]
"""The tiny config with tiny random teachers (the packaged ones load slower)."""


def _pairs(root: Path, n: int = 4) -> Path:
    """``n`` image + caption pairs (a two-line caption file: two captions of one image)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(root / f"p{i}.png")
        (root / f"p{i}.txt").write_text(f"a photo of thing {i}\nthing number {i}\n")
    return root


def cases(base: Path) -> list[BadRun]:
    """Write the inputs under ``base`` and return the cases (exit 2, the key or file named)."""
    from sfclip.cli import precompute, train

    base = Path(base)
    good = _pairs(base / "pairs")
    return [
        *standard_cases("sfclip-train", train.main, base / "train", ".png",
                        data=lambda r: ["--data.source", "folder", "--data.root", str(r)],
                        out=lambda p: ["--train.out_dir", str(p)], good=good, common=TINY),
        BadRun("sfclip-train/webdataset_without_shards", train.main, [*TINY, "--data.source", "webdataset"],
               ["data.shards"]),
        BadRun("sfclip-precompute/no_output_folder", precompute.main, TINY, ["out"]),
        *unknown_key_cases("sfclip"),
    ]
