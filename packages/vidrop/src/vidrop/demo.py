"""ViDROP's stage of the main demo (``sparse-ssl-demo``): the k-means codec and a tiny ViDROP run on CPU, on
Moving Fashion-MNIST (the ``tiny`` config: Fashion-MNIST garments moving and bouncing, Moving-MNIST style).

1. Fit a k-means codebook on pixel patches of the training videos, encode them, report compression factor and
   PSNR on held-out videos of unseen garments, and write a side-by-side original | reconstruction GIF.
2. Train a tiny ViDROP (token dropping + MSK tokens, EMA teacher, DINO + iBOT + KoLeo) on the codec-decoded
   arrays for the tiny config's steps; its two large clips are two temporal windows of one video.
3. k-NN and linear-probe accuracy of the frozen teacher on videos of unseen garments, for the content class
   (garment, the headline) and the motion class (heading), next to the same network at random
   initialisation and to hand-made features (mean frame for content, absolute frame differences for motion).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sparse_core.config import parse_config
from sparse_core.eval import knn_classify, linear_probe
from sparse_core.figures import learning_figure
from sparse_core.report import markdown_table
from sparse_core.suite import Headline, StageResult
from vidrop.codec import compression_factor, decode, encode, fit_codebook, psnr, sample_patches
from vidrop.config import CONFIG_DIR, ViDROPConfig
from vidrop.evaluation.protocols import ProbeConfig, run_protocols
from vidrop.model import build_encoder

__all__ = ["demo_headline", "run"]

PATCH, CLUSTERS = 4, 1024


def _codec_stage(out_dir: Path, train: Any, test: Any) -> dict[str, Any]:
    """Fit the codebook on ``train`` (videos with ``video(i)``, ``label(i)`` and ``classes``), encode it into
    ``out_dir/codes/<class>/<i>.npy``, and measure PSNR on the first 8 videos of ``test``."""
    t0 = time.perf_counter()
    patches = sample_patches((train.video(i) for i in range(len(train))), PATCH, 40_000, seed=0)
    cb = fit_codebook(patches, CLUSTERS, PATCH, niter=15, seed=0)
    fit_s = time.perf_counter() - t0
    codes_root = out_dir / "codes"
    t1 = time.perf_counter()
    for i in range(len(train)):
        dst = codes_root / f"{train.label(i):02d}_{_slug(train.classes[train.label(i)])}" / f"{i:05d}.npy"
        dst.parent.mkdir(parents=True, exist_ok=True)
        np.save(dst, encode(train.video(i), cb))
    enc_s = time.perf_counter() - t1
    cb.save(codes_root / "codebook.npz")
    vals, frames_out = [], []
    for i in range(8):
        v = test.video(i)
        rec = decode(encode(v, cb), cb)
        vals.append(psnr(v, rec))
        if i < 4:
            frames_out.append(np.concatenate([v, np.full_like(v[:, :, :2], 255), rec], axis=2))  # (T, H, 2W+2, 3)
    gif = out_dir / "codec_reconstruction.gif"
    import imageio.v2 as imageio

    grid = np.concatenate(frames_out, axis=1)  # clips stacked vertically
    grid = grid.repeat(2, axis=1).repeat(2, axis=2)
    imageio.mimsave(gif, list(grid), duration=0.15, loop=0)
    n_frames = len(train) * train.num_frames
    return {"psnr_db": float(np.mean(vals)), "compression_factor": compression_factor(cb), "fit_s": fit_s,
            "encode_fps": n_frames / enc_s, "codes_root": codes_root, "gif": gif}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def _handmade_baseline(train_set: Any, test_set: Any, probe: ProbeConfig, num_classes: int,
                       kind: str) -> dict[str, float]:
    """k-NN and linear probe on a hand-made feature of the centre clip: its mean frame (``kind="content"``, the
    garments' pixels averaged over time) or its absolute frame differences (``"motion"``).

    Returns:
        ``{"knn_top1", "linear_top1"}`` in percent.
    """
    from vidrop.evaluation.clips import EvalClips

    def feats(ds: Any) -> tuple[torch.Tensor, torch.Tensor]:
        clips = EvalClips(ds, probe.num_frames, probe.frame_stride, probe.size, 1, 1)
        x = torch.stack([clips[i]["clips"][0] for i in range(len(clips))])  # (N, 3, T, S, S)
        y = torch.tensor([clips[i]["label"] for i in range(len(clips))])
        f = x.mean(2) if kind == "content" else (x[:, :, 1:] - x[:, :, :-1]).abs()
        return f.flatten(1), y

    (xtr, ytr), (xte, yte) = feats(train_set), feats(test_set)
    lin = linear_probe(xtr, ytr, xte, yte, lrs=[0.01, 0.1], epochs=30, num_classes=num_classes)["test_top1"]
    knn = knn_classify(xtr, ytr, xte, yte, k=probe.knn_k, T=probe.knn_temperature, num_classes=num_classes)
    return {"knn_top1": float(knn), "linear_top1": float(lin)}


def demo_headline(metrics: dict[str, float], num_classes: int = 10) -> Headline:
    """The ViDROP stage's claim: content k-NN of the trained teacher vs random init, probes beside it.

    Args:
        metrics: the stage's flat numbers (``knn_top1``, ``knn_top1_random``, ``linear_top1``,
            ``linear_top1_random``, ``knn_top1_pixels``, ``motion_knn_top1``, ``motion_knn_top1_random``).
        num_classes: number of content classes (sets chance).

    Returns:
        the headline (15 k-NN points over random init count as clear, issue 25).
    """
    return Headline(metric="k-NN top-1 (%), content (garment class), unseen garments",
                    trained=metrics["knn_top1"], baselines={"random init": metrics["knn_top1_random"]},
                    references={"chance": 100.0 / num_classes, "linear probe, trained": metrics["linear_top1"],
                                "linear probe, random init": metrics["linear_top1_random"],
                                "k-NN, mean-frame pixels": metrics["knn_top1_pixels"],
                                "motion k-NN, trained": metrics["motion_knn_top1"],
                                "motion k-NN, random init": metrics["motion_knn_top1_random"]},
                    clear_margin=15.0)


def run(out_dir: Path, steps: int | None = None) -> StageResult:
    """Run the ViDROP demo stage into ``out_dir``; headline: content k-NN vs random init.

    Args:
        out_dir: where the codes, the run, the table and the plot go.
        steps: training steps (None: the tiny config's ``train.max_steps``).
    """
    from vidrop.cli.train import train as train_run
    from vidrop.data.build import fashion_videos
    from vidrop.data.datasets import ProceduralClipDataset
    from vidrop.evaluation.loading import load_backbone

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    argv = ["--config", "tiny", "--train.out_dir", str(out_dir / "train"), "--train.resume", "none"]
    if steps is not None:
        argv += ["--train.max_steps", str(steps)]
    cfg = parse_config(ViDROPConfig, argv, config_dir=CONFIG_DIR)
    train_videos = fashion_videos(cfg.data)
    codec = _codec_stage(out_dir, train_videos, fashion_videos(cfg.data, "test", 8, seed_offset=1000))

    cfg.data.source, cfg.data.root = "codes", str(codec["codes_root"])
    torch.manual_seed(0)
    result = train_run(cfg)
    videos_per_s = result["steps"] * cfg.train.batch_size / max(result.get("time_s", float("nan")), 1e-9)

    probe = ProbeConfig(protocols=["knn", "linear"], num_frames=cfg.views.global_frames,
                        frame_stride=cfg.views.frame_stride, size=cfg.views.global_size, num_temporal=1,
                        num_spatial=1, linear_epochs=30, linear_lrs=[0.01, 0.1], batch_size=64)
    rows, res = [], {}
    for kind in ("content", "motion"):
        train_set = ProceduralClipDataset(fashion_videos(cfg.data, "train", 320, seed_offset=500, label_kind=kind))
        test_set = ProceduralClipDataset(fashion_videos(cfg.data, "test", 320, seed_offset=1000, label_kind=kind))
        n_cls = train_set.num_classes
        torch.manual_seed(cfg.train.seed)
        encoder = build_encoder(cfg.encoder, drop_path_rate=0.0)
        rand = run_protocols(encoder, train_set, test_set, probe, n_cls)
        load_backbone(encoder, result["backbone"])
        trained = run_protocols(encoder, train_set, test_set, probe, n_cls)
        hand = _handmade_baseline(train_set, test_set, probe, n_cls, kind)
        res[kind] = {"random": rand, "trained": trained, "hand": hand, "classes": n_cls}
        feature = "mean-frame pixels" if kind == "content" else "pixel frame differences"
        rows += [{"labels": f"{kind} ({n_cls})", "backbone": "random init", **rand},
                 {"labels": f"{kind} ({n_cls})", "backbone": f"tiny ViDROP ({result['steps']} steps)", **trained},
                 {"labels": f"{kind} ({n_cls})", "backbone": f"{feature} (hand-made reference)", **hand}]
    content, motion = res["content"], res["motion"]
    plot = learning_figure(out_dir / "vidrop_results.png", Path(cfg.train.out_dir) / "metrics.jsonl",
                           ("loss", "dino_loss", "ibot_loss", "koleo_loss"), "tiny ViDROP training loss",
                           {"random init": [content["random"]["knn_top1"], motion["random"]["knn_top1"]],
                            f"ViDROP ({result['steps']} steps)": [content["trained"]["knn_top1"],
                                                                  motion["trained"]["knn_top1"]]},
                           ["content k-NN", "motion k-NN"], 10.0, "frozen features, unseen garments")
    table = markdown_table(rows, {"labels": "labels (classes)", "backbone": "backbone", "knn_top1": "k-NN top-1 (%)",
                                  "linear_top1": "linear top-1 (%)"}, fmt=".1f") + "\n"
    (out_dir / "vidrop_results.md").write_text(table)
    m, nan = result["metrics"], float("nan")
    margin = content["trained"]["knn_top1"] - content["random"]["knn_top1"]
    motion_margin = motion["trained"]["knn_top1"] - motion["random"]["knn_top1"]
    verdict = ("the trained features beat random init on the content class by the clear margin (15 k-NN points)"
               if margin >= 15 else
               f"the trained features are {margin:+.1f} content k-NN points from random init, short of the "
               "15-point margin at CPU-demo length; what was measured and tried: packages/vidrop/docs/study.md")
    verdict += f"; on the motion class they are {motion_margin:+.1f} k-NN points from random init"
    summary = (
        "### ViDROP (thesis ch. 6)\n\n"
        f"**k-means codec** ({PATCH}x{PATCH} RGB patches, {CLUSTERS} clusters, uint16 indices): compression factor "
        f"**{codec['compression_factor']:.0f}x** against raw RGB, reconstruction PSNR **{codec['psnr_db']:.2f} dB** "
        f"on held-out Moving Fashion-MNIST videos; encode {codec['encode_fps']:.0f} frames/s on CPU (faiss), "
        f"codebook fit {codec['fit_s']:.1f} s. Side by side: `codec_reconstruction.gif`.\n\n"
        f"**Tiny ViDROP** ({cfg.encoder.depth}-block ViT, {cfg.encoder.embed_dim}-d, "
        f"{cfg.views.global_size}px clips, {cfg.encoder.patch_size}px patches) trained {result['steps']} steps "
        f"({videos_per_s:.0f} videos/s) on the codec-decoded clips of {len(train_videos)} videos, "
        f"{cfg.tokens.drop_ratio:.0%} of student tokens dropped, MSK tokens on half the large clips; the two large "
        f"clips are two temporal windows of one video: final loss {m.get('loss', nan):.3f} "
        f"(DINO {m.get('dino_loss', nan):.3f}, iBOT {m.get('ibot_loss', nan):.3f}).\n\n"
        f"Frozen teacher features on 320 videos of unseen garments (content: 10 garment classes, chance 10%; "
        f"motion: {motion['classes']} headings):\n\n{table}\nVerdict: {verdict}.\n\n"
        f"_({time.perf_counter() - t_start:.0f} s on this machine)_\n"
    )
    outputs = [out_dir / "vidrop_results.md", plot, codec["gif"], Path(cfg.train.out_dir) / "loss.png"]
    metrics = {"codec_psnr_db": codec["psnr_db"], "codec_compression_factor": codec["compression_factor"],
               "knn_top1": content["trained"]["knn_top1"], "knn_top1_random": content["random"]["knn_top1"],
               "linear_top1": content["trained"]["linear_top1"],
               "linear_top1_random": content["random"]["linear_top1"],
               "knn_top1_pixels": content["hand"]["knn_top1"], "linear_top1_pixels": content["hand"]["linear_top1"],
               "motion_knn_top1": motion["trained"]["knn_top1"], "motion_knn_top1_random": motion["random"]["knn_top1"],
               "motion_linear_top1": motion["trained"]["linear_top1"],
               "motion_linear_top1_random": motion["random"]["linear_top1"],
               "motion_knn_top1_frame_diff": motion["hand"]["knn_top1"], "train_videos_per_s": videos_per_s}
    return StageResult(headline=demo_headline(metrics), metrics=metrics, summary=summary,
                       outputs=[str(p) for p in outputs if p.exists()])
