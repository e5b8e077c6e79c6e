"""SCALE's stage of the main demo (``sparse-ssl-demo``): tiny features, a tiny SCALE, SCALE vs its frozen base.

1. ``scale-extract --config tiny`` on the ``shots`` task (:data:`TASKS`; core's ShotShapes, whose class no
   single clip carries) or ``motion`` (core's MotionShapes): 16 augmented clips per video, encoded by the
   frozen ImageNet EfficientNet-Lite0, plus the uniform evaluation views of the training and held-out videos.
2. ``scale-train --config tiny`` for a few hundred steps on those features (in memory; no video decoded).
3. Linear (softmax-averaged over views) and k-NN probes of SCALE ([frozen clip feature (+) SET token])
   next to the same probes on the frozen base features, on the held-out videos; a table and a plot.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from scale_video.data import FeatureBank
from scale_video.probes import ProbeConfig, run_probes
from sparse_core.config import parse_config
from sparse_core.figures import learning_figure
from sparse_core.report import markdown_table
from sparse_core.suite import Headline, StageResult

__all__ = ["TASKS", "demo_headline", "extract_tiny", "run"]

DEMO_PROBES = ["linear", "scale_linear", "knn", "scale_knn"]
TASKS: dict[str, list[str]] = {
    "motion": [],
    "shots": ["--data.source", "shot_shapes", "--data.num_frames", "48"],
    "fashion": ["--data.source", "moving_fashion", "--data.label_kind", "content"],
    "fashion_motion": ["--data.source", "moving_fashion", "--data.label_kind", "motion"],
}
"""``scale-extract --config tiny`` overrides of each tiny task: ``motion`` (core's MotionShapes, class = the
motion), ``shots`` (core's ShotShapes, 3 shots x 16 frames, class = how many distinct shape kinds the shots
show: an LVU-like whole-video question that no single clip answers), ``fashion`` (core's MovingFashion: 1-3
Fashion-MNIST garments moving on a 64 x 64 canvas, class = the main garment's class; held-out videos show
unseen garments) and ``fashion_motion`` (the same videos, class = the main garment's heading)."""
TASK_TEXT = {"motion": "procedural motion videos (class = the motion)",
             "shots": "procedural 3-shot videos (class = how many distinct shape kinds the shots show; every "
                      "single shot's kind is uniform whatever the class)",
             "fashion": "Moving Fashion-MNIST videos (1-3 garments bouncing on a 64 x 64 canvas; class = the "
                        "main garment's class; held-out videos show unseen garments)",
             "fashion_motion": "Moving Fashion-MNIST videos (class = the main garment's heading at frame 0, "
                               "8 directions)"}
"""One line on each task, for reports."""
DEMO_VIDEOS = ["--data.num_videos", "768", "--data.val_num_videos", "256"]
"""Training / held-out videos of the demo stage (the tiny config's 64 / 32 are too few to read a margin)."""


def extract_tiny(out_dir: Path, overrides: list[str] | None = None, task: str = "motion") -> dict[str, Any]:
    """``scale-extract --config tiny`` for ``task`` (:data:`TASKS`) into ``out_dir`` (resumable: a second call
    writes nothing new)."""
    from scale_video.config import CONFIG_DIR, ExtractConfig
    from scale_video.extract import extract

    cfg = parse_config(ExtractConfig, ["--config", "tiny", "--out_dir", str(out_dir), *TASKS[task],
                                       *(overrides or [])], config_dir=CONFIG_DIR / "extract")
    return extract(cfg)


def demo_headline(metrics: dict[str, float], chance: float) -> Headline:
    """The SCALE stage's claim: linear top-1 on SCALE's features vs the frozen base's, chance beside it.

    Args:
        metrics: the stage's flat numbers (``linear_top1``, ``linear_top1_frozen_base``).
        chance: chance top-1 (%) of the held-out set.

    Returns:
        the headline (no clear-margin threshold is stated for SCALE).
    """
    return Headline(metric="linear top-1 (%)", trained=metrics["linear_top1"],
                    baselines={"frozen base": metrics["linear_top1_frozen_base"]}, references={"chance": chance})


def run(out_dir: Path, steps: int = 300, extract_overrides: list[str] | None = None,
        train_overrides: list[str] | None = None, task: str = "shots") -> StageResult:
    """Run the SCALE demo stage into ``out_dir``; headline: SCALE vs frozen base, linear and k-NN top-1 (%).

    Args:
        out_dir: stage folder (features/, train/, scale_results.md, scale_results.png).
        steps: SCALE training steps.
        extract_overrides: extra ``scale-extract`` options after the task's and :data:`DEMO_VIDEOS` (e.g.
            fewer videos in a smoke test).
        train_overrides: extra ``scale-train`` options.
        task: one of :data:`TASKS`; the default ``shots`` asks a question no single clip answers, which is
            what SCALE adds to a frozen clip encoder (on ``motion`` an image backbone's clips carry no motion).
            Measured at these sizes: shots +5.5 linear / +1.6 k-NN over the frozen base; ``fashion`` (the
            garment class, which every clip shows) -0.4 / -0.4, so the demo stays on ``shots``.
    """
    from scale_video.cli.evaluate import load_predictor
    from scale_video.cli.train import train
    from scale_video.eval_config import ScaleEvalConfig
    from scale_video.train_config import TRAIN_CONFIG_DIR, ScaleTrainConfig

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    feats = out_dir / "features"
    stores = extract_tiny(feats, [*DEMO_VIDEOS, *(extract_overrides or [])], task)
    t_extract = time.perf_counter() - t0
    cfg = parse_config(ScaleTrainConfig, ["--config", "tiny", "--data.root", str(feats / "train"),
                                          "--train.out_dir", str(out_dir / "train"), "--train.max_steps", str(steps),
                                          "--train.resume", "none", *(train_overrides or [])],
                       config_dir=TRAIN_CONFIG_DIR)
    trained = train(cfg)
    train_set = FeatureBank.from_store(feats / "train_eval")
    test_set = FeatureBank.from_store(feats / "val_eval")
    predictor = load_predictor(ScaleEvalConfig(run=str(out_dir / "train")), train_set.dim)
    probe = ProbeConfig(probes=DEMO_PROBES, linear_epochs=60, linear_lrs=[0.1, 1.0])
    c = max(train_set.num_classes, test_set.num_classes)
    res = run_probes(predictor, train_set, test_set, probe, c)
    chance = 100.0 / c
    plot = learning_figure(out_dir / "scale_results.png", Path(cfg.train.out_dir) / "metrics.jsonl",
                           ("loss", "mcm_loss", "set_loss"), "tiny SCALE training loss",
                           {"frozen base (EfficientNet-Lite0)": [res["linear"], res["knn"]],
                            "SCALE (tiny)": [res["scale_linear"], res["scale_knn"]]},
                           ["linear", "k-NN"], chance, "held-out videos")
    table = markdown_table(
        [{"features": "frozen base (EfficientNet-Lite0, views averaged)", "linear": res["linear"], "knn": res["knn"]},
         {"features": f"tiny SCALE ({trained['steps']} steps): frozen clip feature (+) SET token",
          "linear": res["scale_linear"], "knn": res["scale_knn"]}],
        {"features": "features", "linear": "linear top-1 (%)", "knn": "k-NN top-1 (%)"}, fmt=".1f") + "\n"
    (out_dir / "scale_results.md").write_text(table)
    m, nan = trained["metrics"], float("nan")
    summary = (
        "### SCALE (thesis ch. 4)\n\n"
        f"**Features**: {stores['train']['records']} training clip sets of 16 "
        f"clips (EfficientNet-Lite0, ImageNet weights, frozen) from {TASK_TEXT[task]}, plus uniform "
        f"evaluation views; extracted in {t_extract:.0f} s.\n\n"
        f"**Tiny SCALE** ({cfg.model.depth}-layer {cfg.model.hidden_dim}-d predictor, two sets of "
        f"{cfg.loss.set_size} clips, {cfg.loss.mask_ratio:.0%} masked) trained {trained['steps']} steps in "
        f"{trained['time_s']:.0f} s: loss {m.get('loss', nan):.3f} (MCM {m.get('mcm_loss', nan):.3f}, "
        f"SET {m.get('set_loss', nan):.3f}).\n\n"
        f"{len(test_set)} held-out videos, {c} classes (chance {chance:.1f}%):\n\n{table}\n"
        f"_({time.perf_counter() - t0:.0f} s on this machine)_\n"
    )
    metrics = {"linear_top1": res["scale_linear"], "linear_top1_frozen_base": res["linear"],
               "knn_top1": res["scale_knn"], "knn_top1_frozen_base": res["knn"]}
    outputs = [out_dir / "scale_results.md", plot, Path(cfg.train.out_dir) / "loss.png"]
    return StageResult(headline=demo_headline(metrics, chance), metrics=metrics, summary=summary,
                       outputs=[str(p) for p in outputs if p.exists()],
                       details={"probes": res, "extract": stores, "train_steps": trained["steps"]})
