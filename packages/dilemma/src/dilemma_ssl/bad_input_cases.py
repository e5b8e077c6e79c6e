"""DILEMMA's cases of the bad-input corpus (:mod:`sparse_core.testing.corpus`): ``dilemma-train`` on unusable
image roots and output folders, options that need each other, ``dilemma-eval`` on torn or missing weights."""

from __future__ import annotations

from pathlib import Path

from sparse_core.testing.badinputs import write_image_corpus
from sparse_core.testing.corpus import BadRun, standard_cases, unknown_key_cases

__all__ = ["cases"]


def cases(base: Path) -> list[BadRun]:
    """Write the inputs under ``base`` and return the cases (exit 2, the key or file named)."""
    from dilemma_ssl.cli import evaluate, train

    base = Path(base)
    good = base / "images"
    write_image_corpus(good, size=32, num_good=4)
    tiny = ["--config", "tiny", "--eval.segmentation", "false"]  # an image folder has no per-pixel masks
    out = base / "run"
    torn = base / "torn.pt"
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(b"PK\x03\x04 torn")
    return [
        *standard_cases("dilemma-train", train.main, base / "train", ".png",
                        data=lambda r: ["--data.name", "imagefolder", "--data.root", str(r), "--data.eval_root",
                                        str(good)],
                        out=lambda p: ["--train.out_dir", str(p)], good=good, common=tiny, data_key="data.root"),
        BadRun("dilemma-train/imagefolder_without_eval_root", train.main,
               [*tiny, "--data.name", "imagefolder", "--data.root", str(good), "--train.out_dir", str(out / "a")],
               ["data.eval_root"], out=out / "a"),
        BadRun("dilemma-train/bad_value", train.main, [*tiny, "--train.batch_size", "0"], ["train.batch_size"]),
        BadRun("dilemma-eval/torn_checkpoint", evaluate.main, [*tiny, "--checkpoint", str(torn)], ["torn.pt"]),
        BadRun("dilemma-eval/missing_weights", evaluate.main, [*tiny, "--weights", str(base / "none.safetensors")],
               ["none.safetensors"]),
        *unknown_key_cases("dilemma-ssl"),
    ]
