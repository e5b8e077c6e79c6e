"""ViDROP's cases of the bad-input corpus (:mod:`sparse_core.testing.corpus`): ``vidrop-train`` and
``vidrop-compress`` on unusable video roots and output folders, videos too short or too small for the tiny
views, torn weights and codebooks."""

from __future__ import annotations

from pathlib import Path

from sparse_core.testing.corpus import BadRun, noise_videos, standard_cases, unknown_key_cases

__all__ = ["cases"]


def cases(base: Path) -> list[BadRun]:
    """Write the inputs under ``base`` and return the cases (exit 2, the key or file named)."""
    from vidrop.cli import compress, train

    base = Path(base)
    # the tiny views: two 8-frame clips at stride 2 (30 frames), 8-px patches
    good = noise_videos(base / "good" / "a", 32, 32).parent
    short = noise_videos(base / "short" / "a", 2, 32).parent
    small = noise_videos(base / "small" / "a", 32, 4).parent
    tiny = ["--config", "tiny", "--train.batch_size", "2"]
    torn = base / "torn.pt"
    torn.write_bytes(b"PK\x03\x04 torn")
    torn_cb = base / "cb_torn.npz"
    torn_cb.write_bytes(b"PK\x03\x04 torn")

    def video(root: Path) -> list[str]:
        return ["--data.source", "video", "--data.root", str(root)]

    def run(name: str) -> list[str]:
        return ["--train.out_dir", str(base / "runs" / name)]

    return [
        *standard_cases("vidrop-train", train.main, base / "train", ".mp4", data=video,
                        out=lambda p: ["--train.out_dir", str(p)], good=good, common=tiny),
        BadRun("vidrop-train/videos_too_short", train.main, [*tiny, *video(short), *run("s")],
               ["short", "too short: 2 frame(s)"], out=base / "runs" / "s"),
        BadRun("vidrop-train/videos_too_small", train.main, [*tiny, *video(small), *run("m")],
               ["small", "too small: 4x4 px"], out=base / "runs" / "m"),
        BadRun("vidrop-train/torn_init_weights", train.main,
               [*tiny, *video(good), "--init.kind", "videomae", "--init.path", str(torn), *run("t")], ["torn.pt"]),
        *standard_cases("vidrop-compress-fit", compress.main, base / "fit", ".mp4",
                        data=lambda r: ["fit", "--videos", str(r), "--out", str(base / "cb.npz"), "--clusters",
                                        "4", "--patch_size", "4"], out=None),
        BadRun("vidrop-compress-encode/torn_codebook", compress.main,
               ["encode", "--codebook", str(torn_cb), "--src", str(good), "--dst", str(base / "codes")],
               ["cb_torn.npz"]),
        *unknown_key_cases("vidrop"),
    ]
