"""``vidrop-compress``: the k-means lossy video codec (thesis sec. 6.2.4).

Subcommands::

    vidrop-compress fit    --videos K400/train --patch-size 10 --clusters 65536 --out codebook.npz [--gpu]
    vidrop-compress encode --codebook codebook.npz --src K400/train --dst K400-codes/train
    vidrop-compress decode --codebook codebook.npz --codes K400-codes/train/abseiling/x.npy --out x.mp4
    vidrop-compress psnr   --codebook codebook.npz --video clip.mp4

``fit --procedural N`` fits on N in-package procedural clips instead of a folder (the tiny setting).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.data.video import MotionShapes, write_video
from vidrop.codec import PatchCodebook, compression_factor, decode, encode, fit_codebook, psnr, sample_patches
from vidrop.codec.folder import encode_folder, fit_folder
from vidrop.data.io import read_video

__all__ = ["main", "run", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``vidrop-compress`` argument parser."""
    parser = argparse.ArgumentParser(prog="vidrop-compress", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a k-means codebook on pixel patches")
    src = fit.add_mutually_exclusive_group(required=True)
    src.add_argument("--videos", help="folder root/<class>/<video> to sample patches from")
    src.add_argument("--procedural", type=int, help="fit on this many in-package procedural clips")
    fit.add_argument("--patch-size", type=int, default=10, help="patch side p (thesis: 10)")
    fit.add_argument("--clusters", type=int, default=65536, help="codebook size K (thesis: 65536)")
    fit.add_argument("--patches-per-video", type=int, default=2000)
    fit.add_argument("--max-frames", type=int, default=64, help="frames decoded per video")
    fit.add_argument("--niter", type=int, default=20, help="k-means iterations")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--gpu", action="store_true", help="k-means on GPUs (needs faiss-gpu: vidrop[gpu])")
    fit.add_argument("--out", required=True, help="codebook .npz")
    enc = sub.add_parser("encode", help="encode a video folder to .npy code arrays")
    enc.add_argument("--codebook", required=True)
    enc.add_argument("--src", required=True, help="root/<class>/<video>")
    enc.add_argument("--dst", required=True, help="output root/<class>/<video>.npy (+ codebook.npz)")
    enc.add_argument("--max-frames", type=int, default=None, help="encode at most this many frames per video")
    dec = sub.add_parser("decode", help="decode a code array to a video (.mp4/.gif) or frames (.npy)")
    dec.add_argument("--codebook", required=True)
    dec.add_argument("--codes", required=True)
    dec.add_argument("--out", required=True)
    ps = sub.add_parser("psnr", help="round-trip a video: PSNR, compression factor, timings")
    ps.add_argument("--codebook", required=True)
    ps.add_argument("--video", required=True)
    ps.add_argument("--max-frames", type=int, default=None)
    return parser


def _fit(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    if args.procedural is not None:
        pv = MotionShapes(args.procedural, seed=args.seed)
        patches = sample_patches((pv.video(i) for i in range(len(pv))), args.patch_size,
                                 args.patches_per_video * len(pv), seed=args.seed)
        cb = fit_codebook(patches, args.clusters, args.patch_size, niter=args.niter, seed=args.seed, gpu=args.gpu)
    else:
        cb = fit_folder(args.videos, args.patch_size, args.clusters, args.patches_per_video, args.max_frames,
                        args.niter, args.seed, args.gpu)
    cb.save(args.out)
    return {"codebook": args.out, "clusters": cb.num_clusters, "patch_size": cb.patch_size,
            "compression_factor": compression_factor(cb), "seconds": time.perf_counter() - t0}


def _decode(args: argparse.Namespace) -> dict[str, Any]:
    cb = PatchCodebook.load(args.codebook)
    frames = decode(np.load(args.codes), cb)
    out = Path(args.out)
    if out.suffix == ".npy":
        np.save(out, frames)
    elif out.suffix == ".gif":
        import imageio.v2 as imageio

        imageio.mimsave(out, list(frames), duration=0.125, loop=0)
    else:
        write_video(out, frames)
    return {"out": str(out), "frames": int(frames.shape[0]), "size": list(frames.shape[1:3])}


def _psnr(args: argparse.Namespace) -> dict[str, Any]:
    cb = PatchCodebook.load(args.codebook)
    frames = read_video(args.video, args.max_frames)
    t0 = time.perf_counter()
    codes = encode(frames, cb)
    t1 = time.perf_counter()
    rec = decode(codes, cb)
    t2 = time.perf_counter()
    return {"video": args.video, "frames": int(frames.shape[0]), "psnr_db": psnr(frames, rec),
            "compression_factor": compression_factor(cb), "encode_s": t1 - t0, "decode_s": t2 - t1}


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one ``vidrop-compress`` subcommand; prints and returns a JSON-able summary."""
    args = build_parser().parse_args(argv)
    if args.command == "fit":
        result = _fit(args)
    elif args.command == "encode":
        rep = encode_folder(args.src, args.dst, PatchCodebook.load(args.codebook), args.codebook, args.max_frames)
        result = {"encoded": rep.encoded, "skipped": len(rep.skipped), "skipped_files": rep.skipped,
                  "compression_factor": rep.ratio, "seconds": rep.seconds}
    elif args.command == "decode":
        result = _decode(args)
    else:
        result = _psnr(args)
    print(json.dumps(result, indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (exit status 0)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss").setLevel(logging.WARNING)
    run(argv)
    return 0


if __name__ == "__main__":
    main()
