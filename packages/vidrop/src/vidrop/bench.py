"""ViDROP benchmarks (``nox -s bench``; never a test).

1. Training throughput (clips/s, forward + backward + optimizer + EMA, data excluded as in thesis Table 6.5)
   and peak memory at student drop rates 0 (dense, the DINOv2-style model), 0.8, 0.85, 0.9, 0.95, as ratios
   to the dense model. Every rate's model is built first, then all are timed in interleaved rounds (0, 0.8,
   ..., 0.95, 0, ...) after warm-up, torch's threads pinned (:func:`sparse_core.timing.interleave`); a
   speed-up is the median over the rounds of the dense step's time over the sparse one's in the same round,
   the load average written beside it; peak memory comes from one more untimed step per rate. Thesis (ViT-B,
   RTX 4090): 43.1 vs 23.4 clips/s = 1.84x.
2. The k-means codec: encode throughput (frames/s, faiss exact search) and data loading of compressed arrays
   (``np.load`` + centroid gather) vs decord decoding of the same clips (thesis target >= 5x).

``quick=True`` uses a tiny model and small clips (seconds on a CPU); the full run uses ViT-B/16 on
2 x 16 x 224^2 + 8 x 8 x 96^2 clips when a GPU is present.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from sparse_core.data.video import MotionShapes, write_video
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing import MIN_PAIRS, Interleaved, cuda_allocated, interleave, peak_cuda_gib, training_step_fn
from vidrop.codec import PatchCodebook, decode_torch, encode
from vidrop.config import EncoderConfig, HeadConfig, ViDROPConfig, ViewsConfig
from vidrop.task import ViDROPTask

__all__ = ["run"]

DROP_RATES = (0.0, 0.8, 0.85, 0.9, 0.95)


def _bench_cfg(quick: bool, gpu: bool) -> tuple[ViDROPConfig, int]:
    cfg = ViDROPConfig()
    if quick or not gpu:
        cfg.encoder = EncoderConfig(img_size=32, num_frames=8, patch_size=8, embed_dim=96, depth=3, num_heads=3,
                                    drop_path_rate=0.0)
        cfg.head = HeadConfig(out_dim=1024, patch_out_dim=1024, hidden_dim=256, bottleneck_dim=64)
        cfg.views = ViewsConfig(global_frames=8, global_size=32, local_frames=4, local_size=16, num_local=4)
        return cfg, 8
    cfg.encoder.drop_path_rate = 0.1  # ViT-B/16, 16 x 224^2; heads 65536 prototypes (DINOv2 defaults)
    return cfg, 8


def time_training(quick: bool = False, steps: int | None = None, threads: int | None = None,
                  clock: Callable[[], float] = time.perf_counter) -> tuple[list[dict[str, float]], Interleaved]:
    """Every drop rate's step built first, then timed in interleaved rounds; rows and the rounds.

    Args:
        quick: the tiny model (also used without a GPU).
        steps: timed rounds (default 4 quick / 10; raised to :data:`~sparse_core.timing.MIN_PAIRS`).
        threads: torch's intra-op threads while timing (default: the current count).
        clock: seconds clock (a test passes a fake one).

    Returns:
        one row per drop rate (``step_s`` median over rounds, ``clips_per_s``, ``peak_mem_gb`` of one untimed
        step, NaN off CUDA, ``speedup_vs_dense`` median of the paired ratios) and the :class:`Interleaved`.
    """
    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    cfg, batch = _bench_cfg(quick, gpu)
    v = cfg.views
    fns: dict[str, Callable[[], None]] = {}
    peaks: dict[str, float | None] = {}
    for rate in DROP_RATES:
        since = cuda_allocated(device)
        rate_cfg = copy.deepcopy(cfg)  # each task keeps its own drop rate
        rate_cfg.tokens.drop_ratio = rate
        torch.manual_seed(0)
        task = ViDROPTask(rate_cfg, total_steps=100).to(device)
        data = {"global": torch.randn(batch, v.num_global, 3, v.global_frames, v.global_size, v.global_size,
                                      device=device),
                "local": torch.randn(batch, v.num_local, 3, v.local_frames, v.local_size, v.local_size,
                                     device=device)}
        fns[f"{rate:g}"] = training_step_fn(task, data, device, total_steps=100)
        peaks[f"{rate:g}"] = peak_cuda_gib(fns[f"{rate:g}"], device, since)
    timing = interleave(fns, device, base="0", pairs=max(steps or (4 if quick else 10), MIN_PAIRS), warmup=2,
                        threads=threads, clock=clock)
    rows = []
    for rate in DROP_RATES:
        name, peak = f"{rate:g}", peaks[f"{rate:g}"]
        rows.append({"drop_rate": rate, "step_s": timing.median(name), "clips_per_s": batch / timing.median(name),
                     "peak_mem_gb": peak if peak is not None else float("nan"),
                     "speedup_vs_dense": timing.ratio(name)})
    return rows, timing


def bench_training(quick: bool = False, steps: int | None = None) -> list[dict[str, float]]:
    """Rows of :func:`time_training` (the GPU suite's), each with the rounds, threads and load average."""
    rows, timing = time_training(quick, steps)
    load = None if timing.load_before is None else round(timing.load_before[0], 2)
    return [{**r, "pairs": timing.pairs, "threads": timing.threads, "load_avg_1min": load} for r in rows]


def bench_codec(quick: bool = False) -> dict[str, float]:
    """Encode throughput and compressed-vs-decord loading throughput on procedural clips.

    Loading every clip by decord and from its codes alternate in interleaved rounds after a warm-up round
    (:func:`sparse_core.timing.interleave`); ``loading_speedup`` is the median of the ratios within a round.
    """
    size, frames, n_clips = (64, 16, 4) if quick else (224, 32, 8)
    k = 256 if quick else 4096
    rng = np.random.default_rng(0)
    cb = PatchCodebook(rng.uniform(0, 255, (k, 300)).astype(np.float32), 10)
    videos = [np.ascontiguousarray(np.resize(v, (frames, size, size, 3)))
              for v in (MotionShapes(n_clips, num_frames=frames, image_size=size, seed=0).video(i)
                        for i in range(n_clips))]
    t0 = time.perf_counter()
    codes = [encode(v, cb) for v in videos]
    enc_fps = n_clips * frames / (time.perf_counter() - t0)
    cents = torch.from_numpy(cb.centroids_uint8().reshape(k, -1))
    with tempfile.TemporaryDirectory() as tmp:
        paths_mp4, paths_npy = [], []
        for i, (v, c) in enumerate(zip(videos, codes)):
            paths_mp4.append(write_video(Path(tmp) / f"{i}.mp4", v))
            paths_npy.append(Path(tmp) / f"{i}.npy")
            np.save(paths_npy[-1], c)
        from vidrop.data.io import read_video

        def decord_all() -> None:
            for p in paths_mp4:
                read_video(p)

        def codes_all() -> None:
            for p in paths_npy:
                decode_torch(torch.from_numpy(np.load(p).astype(np.int64)), cents, 10)

        loading = interleave({"decord": decord_all, "codes": codes_all}, torch.device("cpu"), warmup=1)
    decord_s, codes_s = loading.median("decord"), loading.median("codes")
    return {"clusters": k, "frame_size": size, "encode_frames_per_s": enc_fps,
            "decord_clips_per_s": n_clips / decord_s, "codes_clips_per_s": n_clips / codes_s,
            "loading_speedup": loading.ratio("codes"), "loading_timing": loading.to_dict(),
            "loading_timing_note": loading.describe()}


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Run both benchmarks, print a table and write ``out_dir/vidrop.json``; headline: speed-ups."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    train_rows, timing = time_training(quick)
    codec = bench_codec(quick)
    arch = "tiny (quick / CPU)" if quick or not torch.cuda.is_available() else "ViT-B/16, 2x16x224^2 + 8x8x96^2"
    lines = [f"ViDROP training throughput on {device}, {arch} (median, data excluded):",
             markdown_table(train_rows, {"drop_rate": "drop rate", "step_s": "step (s)", "clips_per_s": "clips/s",
                                         "speedup_vs_dense": "x dense", "peak_mem_gb": "peak GB"},
                            fmt={"step_s": ".4f", "clips_per_s": ".1f"}), timing.describe()]
    lines += ["", f"k-means codec ({codec['clusters']} clusters, p=10, {codec['frame_size']}^2 frames): encode "
              f"{codec['encode_frames_per_s']:.0f} frames/s; loading {codec['codes_clips_per_s']:.1f} clips/s "
              f"(codes) vs {codec['decord_clips_per_s']:.1f} clips/s (decord) = {codec['loading_speedup']:.1f}x",
              codec["loading_timing_note"]]
    print("\n".join(lines))
    result = {"device": device, "quick": quick, "training": train_rows, "timing": timing.to_dict(), "codec": codec,
              "table": "\n".join(lines)}
    (out_dir / "vidrop.json").write_text(json.dumps(result, indent=2))
    headline = {f"speedup_drop{r['drop_rate']:g}": r["speedup_vs_dense"] for r in train_rows if r["drop_rate"] > 0}
    headline["codes_loading_speedup"] = codec["loading_speedup"]
    return StageResult(metrics=headline, summary=result["table"], outputs=[str(out_dir / "vidrop.json")],
                       details={k: v for k, v in result.items() if k != "table"})
