"""``vidrop-compress``: the k-means lossy video codec (thesis sec. 6.2.4).

Subcommands, each with its typed config (``vidrop.config.COMPRESS_COMMANDS``)::

    vidrop-compress fit    --videos K400/train --patch_size 10 --clusters 65536 --out codebook.npz [--gpu]
    vidrop-compress encode --codebook codebook.npz --src K400/train --dst K400-codes/train
    vidrop-compress decode --codebook codebook.npz --codes K400-codes/train/abseiling/x.npy --out x.mp4
    vidrop-compress psnr   --codebook codebook.npz --video clip.mp4

``--videos`` / ``--src`` take class folders ``root/<class>/<video>``, a flat folder of videos, one video file or a
list file; codes mirror the source's paths. ``encode`` and ``psnr`` decode videos chunk by chunk (memory bounded
whatever the length), show a progress line (a bar on a terminal, a line every ~5 % in a log) and report two
compression factors: against raw RGB frames and against the source file's size (``factors`` in the output says
which is which).

``fit --procedural N`` fits on N in-package procedural clips instead of a folder (the tiny setting). Options
are the config fields; the argparse spellings of earlier versions (``--patch-size 10``, ``--gpu``) are still
accepted (see :func:`sparse_core.config.parse_config`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.cli import report_config_error, require_path, run_cli
from sparse_core.config import ConfigError, parse_config
from sparse_core.data.errors import DatasetError
from vidrop.config import (
    COMPRESS_COMMANDS,
    CodebookFitConfig,
    CodecPsnrConfig,
    CodesDecodeConfig,
    CodesEncodeConfig,
)

__all__ = ["main", "run", "split_command"]

PROG = "vidrop-compress"


# Each command imports the codec (torch, faiss, the video readers) when it runs: --help and a bad argument do not.
def _fit(cfg: CodebookFitConfig) -> dict[str, Any]:
    from sparse_core.data.video import MotionShapes
    from vidrop.codec import compression_factor, fit_codebook, sample_patches
    from vidrop.codec.folder import fit_folder

    t0 = time.perf_counter()
    skipped: list[str] = []
    if cfg.procedural is not None:
        pv = MotionShapes(cfg.procedural, seed=cfg.seed)
        patches = sample_patches((pv.video(i) for i in range(len(pv))), cfg.patch_size,
                                 cfg.patches_per_video * len(pv), seed=cfg.seed)
        cb = fit_codebook(patches, cfg.clusters, cfg.patch_size, niter=cfg.niter, seed=cfg.seed, gpu=cfg.gpu)
    else:
        require_path(cfg.videos, "videos", "any")
        cb = fit_folder(cfg.videos, cfg.patch_size, cfg.clusters, cfg.patches_per_video, cfg.max_frames,
                        cfg.niter, cfg.seed, cfg.gpu, skipped=skipped)
    cb.save(cfg.out)
    return {"codebook": cfg.out, "clusters": cb.num_clusters, "patch_size": cb.patch_size,
            "factor_vs_raw_rgb": compression_factor(cb),
            "factors": "factor_vs_raw_rgb: one p x p uint8 RGB patch (p*p*3 bytes) / the bytes of its index",
            "skipped": len(skipped), "skipped_files": skipped,
            "seconds": time.perf_counter() - t0}


def _encode(cfg: CodesEncodeConfig) -> dict[str, Any]:
    from vidrop.codec.codebook import load_codebook
    from vidrop.codec.folder import encode_folder

    cb_path = require_path(cfg.codebook, "codebook", "file")
    require_path(cfg.src, "src", "any")
    rep = encode_folder(cfg.src, cfg.dst, load_codebook(cb_path), cb_path, cfg.max_frames)
    return {"encoded": rep.encoded, "skipped": len(rep.skipped), "skipped_files": rep.skipped,
            "frames": rep.size.frames, **rep.size.as_dict(), "codebook_bytes": cb_path.stat().st_size,
            "seconds": rep.seconds}


def _decode(cfg: CodesDecodeConfig) -> dict[str, Any]:
    from sparse_core.data.video import write_video
    from vidrop.codec import decode
    from vidrop.codec.codebook import load_codebook

    cb = load_codebook(require_path(cfg.codebook, "codebook", "file"))
    frames = decode(np.load(require_path(cfg.codes, "codes", "file")), cb)
    out = Path(cfg.out)  # type: ignore[arg-type]
    if out.suffix == ".npy":
        np.save(out, frames)
    elif out.suffix == ".gif":
        import imageio.v2 as imageio

        imageio.mimsave(out, list(frames), duration=0.125, loop=0)
    else:
        write_video(out, frames)
    return {"out": str(out), "frames": int(frames.shape[0]), "size": list(frames.shape[1:3])}


def _psnr(cfg: CodecPsnrConfig) -> dict[str, Any]:
    from vidrop.codec import round_trip_file
    from vidrop.codec.codebook import load_codebook
    from vidrop.codec.progress import FrameProgress

    cb_path = require_path(cfg.codebook, "codebook", "file")
    cb = load_codebook(cb_path)
    video = require_path(cfg.video, "video", "file")
    bar = FrameProgress("psnr")
    try:
        rt = round_trip_file(video, cb, cfg.max_frames, on_chunk=bar.chunk)
    except Exception as err:  # corrupt / truncated / audio-only file, frames smaller than a patch: one line
        raise DatasetError(f"video {video} cannot be round-tripped: {type(err).__name__}: {err}") from None
    finally:
        bar.close()
    return {"video": cfg.video, "frames": rt.size.frames, "size": list(rt.frame_size), "psnr_db": rt.psnr_db,
            **rt.size.as_dict(), "codebook_bytes": cb_path.stat().st_size,
            **{f"{k}_s": v for k, v in rt.seconds.items()}}


RUNNERS: dict[str, Callable[[Any], dict[str, Any]]] = {"fit": _fit, "encode": _encode, "decode": _decode,
                                                       "psnr": _psnr}


def _usage() -> str:
    lines = [f"usage: {PROG} {{{','.join(COMPRESS_COMMANDS)}}} [--key value ...]", "",
             (__doc__ or "").splitlines()[0], "", "commands:"]
    lines += [f"  {name:<7} {(cls.__doc__ or '').split(': ', 1)[-1]}" for name, cls in COMPRESS_COMMANDS.items()]
    lines += ["", f"run '{PROG} COMMAND --help' for the options of one command"]
    return "\n".join(lines)


def split_command(argv: Sequence[str] | None = None) -> tuple[str, list[str]]:
    """Split ``argv`` into the subcommand and its options.

    ``--help`` / ``-h`` in place of a command prints the list of commands and exits 0.

    Raises:
        ConfigError: no command or an unknown one, with the valid commands.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(_usage())
        raise SystemExit(0)
    valid = ", ".join(COMPRESS_COMMANDS)
    if not args:
        raise ConfigError(f"a command is required, one of: {valid}")
    if args[0] not in COMPRESS_COMMANDS:
        what = "option" if args[0].startswith("-") else "command"
        raise ConfigError(f"unknown {what} '{args[0]}' where a command is expected; valid commands: {valid}")
    return args[0], args[1:]


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one ``vidrop-compress`` subcommand; prints and returns a JSON-able summary.

    Raises:
        ConfigError: an unknown command or option, a bad value or a missing path.
    """
    command, args = split_command(argv)
    cfg = parse_config(COMPRESS_COMMANDS[command], args, prog=f"{PROG} {command}")
    return _run(command, cfg)


def _run(command: str, cfg: Any) -> dict[str, Any]:
    result = RUNNERS[command](cfg)
    print(json.dumps(result, indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: 0 on success, 2 on a config error."""
    logging.getLogger("faiss").setLevel(logging.WARNING)
    try:
        command, args = split_command(argv)
    except ConfigError as err:
        return report_config_error(PROG, err)
    return run_cli(COMPRESS_COMMANDS[command], lambda cfg: _run(command, cfg), args, prog=f"{PROG} {command}")


if __name__ == "__main__":
    raise SystemExit(main())
