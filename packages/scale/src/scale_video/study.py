"""SCALE's small study (not a test): ``python -m scale_video.study --out runs/scale_study [--seeds [0,1,2]]
[--quick true] [--doc packages/scale/docs/study.md]`` (on :func:`sparse_core.suite.study_main`).

On the tiny features (``scale-extract --config tiny``, frozen ImageNet EfficientNet-Lite0) of one of two
procedural tasks (``--task``): ``motion`` (the class is the motion of the shape) or ``shots`` (three shots,
the class is how many distinct shape kinds they show, an LVU-like whole-video question), for each seed:

* tiny SCALE vs its frozen base, linear (softmax-averaged over views) and k-NN top-1 on held-out videos
  (the direction of thesis Tables 4.4-4.5);
* the loss ablation MCM only / SET only / both (thesis Table 4.8), same probes;
* a hand-made reference: the differences of consecutive views' frozen features (is the motion readable from
  the frozen base across clips at all?);
* the supervised references of the thesis' tables, same network and head: the ``transformer`` baseline
  (predictor from random init trained on the labels) and SCALE_ft of every variant (thesis Table 4.8 reports
  SCALE_ft): can this network read the class from these features and this many videos at all?

The features are extracted once (they are the frozen base); the seed drives SCALE's initialisation, its
per-step draws and the probes. Tables give mean ± std over seeds; a bar plot goes next to the Markdown.
"""

from __future__ import annotations

import json
import math
import statistics
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from scale_video.data import FeatureBank
from scale_video.probes import ProbeConfig, knn_probe, run_probes
from sparse_core.config import ConfigError, parse_config
from sparse_core.eval import linear_probe
from sparse_core.figures import seed_bars
from sparse_core.report import markdown_table, seed_summary
from sparse_core.suite import StageResult, StudyConfig, study_main

__all__ = ["VARIANTS", "ScaleStudyConfig", "main", "study"]

VARIANTS = {"SCALE (MCM + SET)": (True, True), "SCALE (MCM only)": (True, False), "SCALE (SET only)": (False, True)}


@dataclass
class ScaleStudyConfig(StudyConfig):
    """The SCALE study's knobs on top of the common ``out`` / ``seeds`` / ``quick`` / ``doc``."""

    steps: int = 300
    """SCALE training steps per run (quick: 40)."""
    linear_epochs: int = 60
    """Epochs of each linear probe (quick: 10)."""
    features: str | None = None
    """Folder of an existing ``scale-extract --config tiny`` run to reuse (default: extract into out/features)."""
    num_videos: int | None = None
    """Training videos of the extraction (default: the tiny config's 64; quick: 32)."""
    val_videos: int | None = None
    """Held-out videos of the extraction (default: the tiny config's 32; quick: 16)."""
    passes: int | None = None
    """Augmented passes over the training videos (sampled sets per video; default: the tiny config's 1)."""
    task: str = "motion"
    """'motion': the tiny config's motion videos (class = the motion); 'shots': core's multi-shot
    ``shot_shapes`` videos of 3 shots x 16 frames (class = how many distinct shape kinds the shots show, an
    LVU-like whole-video question that no single clip answers)."""

    def __post_init__(self) -> None:
        """Refuse an unknown task."""
        from scale_video.demo import TASKS

        if self.task not in TASKS:
            raise ConfigError(f"task: {self.task!r} is not one of {', '.join(TASKS)}")


def _train_and_probe(root: Path, feats: Path, seed: int, mcm: bool, set_: bool, steps: int,
                     train_set: FeatureBank, test_set: FeatureBank, probe: ProbeConfig,
                     overrides: Sequence[str] = ()) -> dict[str, float]:
    from scale_video.cli.evaluate import load_predictor
    from scale_video.cli.train import train
    from scale_video.eval_config import ScaleEvalConfig
    from scale_video.train_config import TRAIN_CONFIG_DIR, ScaleTrainConfig

    cfg = parse_config(ScaleTrainConfig, ["--config", "tiny", "--data.root", str(feats / "train"),
                                          "--train.out_dir", str(root), "--train.max_steps", str(steps),
                                          "--train.seed", str(seed), "--train.resume", "none",
                                          "--loss.mcm", str(mcm).lower(), "--loss.set", str(set_).lower(),
                                          *overrides],
                       config_dir=TRAIN_CONFIG_DIR)
    train(cfg)
    predictor = load_predictor(ScaleEvalConfig(run=str(root)), train_set.dim)
    res = run_probes(predictor, train_set, test_set, probe)
    return {"linear": res["scale_linear"], "knn": res["scale_knn"], "ft": res["scale_ft"]}


def view_differences(bank: FeatureBank) -> Tensor:
    """Differences of consecutive evaluation views' frozen features, concatenated in time order.

    A hand-made temporal feature: it shows whether the motion is readable from the frozen base at all
    across clips (each clip feature, frames averaged, is not).

    Shape:
        -> (N, (V - 1) * D).
    """
    f = bank.feats.float().cpu()
    return (f[:, 1:] - f[:, :-1]).flatten(1)


def _difference_row(train_set: FeatureBank, test_set: FeatureBank, probe: ProbeConfig) -> dict[str, Any]:
    c = max(train_set.num_classes, test_set.num_classes)
    xtr, xte, ytr, yte = view_differences(train_set), view_differences(test_set), train_set.label, test_set.label
    lin = linear_probe(xtr, ytr, xte, yte, lrs=probe.linear_lrs, epochs=probe.linear_epochs, num_classes=c,
                       seed=probe.seed)["test_top1"]
    return {"method": "frozen base, consecutive-view differences (hand-made)", "linear": float(lin),
            "knn": knn_probe(xtr, ytr, xte, yte, probe, c), "ft": float("nan")}


def _supervised_row(train_set: FeatureBank, test_set: FeatureBank, seed: int) -> dict[str, Any]:
    """The transformer baseline: the tiny config's predictor from random init with the SCALE_linear head,
    trained end to end on the labels (the fine-tuned column only)."""
    from scale_video.model import SCALEPredictor
    from scale_video.train_config import TRAIN_CONFIG_DIR, ScaleTrainConfig

    arch = parse_config(ScaleTrainConfig, ["--config", "tiny"], config_dir=TRAIN_CONFIG_DIR).model
    res = run_probes(SCALEPredictor(train_set.dim, arch), train_set, test_set,
                     ProbeConfig(probes=["transformer"], seed=seed))
    nan = float("nan")
    return {"method": "transformer baseline: predictor from random init, trained on the labels",
            "linear": nan, "knn": nan, "ft": res["transformer"]}


def study(cfg: ScaleStudyConfig) -> StageResult:
    """Run the study of the module docstring; the summary is the Markdown of ``study.md``."""
    from scale_video.demo import TASK_TEXT, extract_tiny

    out = Path(cfg.out)
    steps = 40 if cfg.quick else cfg.steps
    feats = Path(cfg.features) if cfg.features else out / "features"
    overrides = ["--data.num_videos", "32", "--data.val_num_videos", "16"] if cfg.quick else []
    # quick: 32 training sets, fewer than the tiny config's batch of 64 (refused before training)
    train_overrides = ["--train.batch_size", "16"] if cfg.quick else []
    for key, value in (("data.num_videos", cfg.num_videos), ("data.val_num_videos", cfg.val_videos),
                       ("passes", cfg.passes)):
        if value is not None:
            overrides += [f"--{key}", str(value)]
    extract_tiny(feats, overrides, cfg.task)  # resumable: a complete store is left as it is
    train_set = FeatureBank.from_store(feats / "train_eval")
    test_set = FeatureBank.from_store(feats / "val_eval")
    per_seed: list[list[dict[str, Any]]] = []
    for seed in cfg.seeds:
        probe = ProbeConfig(probes=["linear", "knn", "scale_linear", "scale_knn", "scale_ft"], seed=seed,
                            linear_epochs=10 if cfg.quick else cfg.linear_epochs, linear_lrs=[0.1, 1.0])
        base = run_probes(None, train_set, test_set,
                          ProbeConfig(probes=["linear", "knn"], seed=seed, linear_epochs=probe.linear_epochs,
                                      linear_lrs=probe.linear_lrs))
        rows = [{"method": "frozen base (EfficientNet-Lite0)", "linear": base["linear"], "knn": base["knn"],
                 "ft": float("nan")}]
        rows.append(_difference_row(train_set, test_set, probe))
        rows.append(_supervised_row(train_set, test_set, seed))
        for name, (mcm, set_) in VARIANTS.items():
            tag = ("mcm" if mcm else "") + ("set" if set_ else "")
            rows.append({"method": name, **_train_and_probe(out / f"seed{seed}_{tag}", feats, seed, mcm, set_, steps,
                                                            train_set, test_set, probe, train_overrides)})
        per_seed.append(rows)
        (out / "per_seed.json").write_text(json.dumps(per_seed, indent=2))  # kept if a later seed fails
    merged = seed_summary(per_seed, ["method"], fmt=".1f")
    table = markdown_table(merged, {"method": "features", "linear": "linear top-1 (%)", "knn": "k-NN top-1 (%)",
                                    "ft": "fine-tuned top-1 (%)", "seeds": "seeds"}, fmt=".1f")
    doc_dir = Path(cfg.doc).parent if cfg.doc else out
    doc_dir.mkdir(parents=True, exist_ok=True)
    png = f"{Path(cfg.doc).stem if cfg.doc else 'study'}.png"  # study.md -> study.png, study_shots.md -> ...
    c = max(train_set.num_classes, test_set.num_classes)
    plot = seed_bars(doc_dir / png, per_seed, [textwrap.fill(r["method"], 18) for r in per_seed[0]],
                     {"linear": "linear top-1", "knn": "knn top-1", "ft": "fine-tuned top-1"},
                     f"tiny SCALE vs frozen base ({len(per_seed)} seeds, mean ± std)",
                     references={"chance": 100 / c}, figsize=(9, 3.6))
    summary = (
        "# SCALE study: tiny SCALE vs its frozen base, and the loss ablation (thesis Tables 4.4-4.5, 4.8)\n\n"
        f"Features: `scale-extract --config tiny` ({len(train_set)} training / {len(test_set)} held-out "
        f"{TASK_TEXT[cfg.task]}, {c} classes, chance {100 / c:.1f}%; frozen ImageNet EfficientNet-Lite0, "
        f"{train_set.num_clips} uniform views per video for the probes). SCALE: `scale-train --config tiny`, "
        f"{steps} steps per run; seeds {list(cfg.seeds)}{' (quick: not meaningful)' if cfg.quick else ''}.\n"
        "Probes on held-out videos: linear softmax-averaged over views (SCALE: frozen clip feature (+) SET token per "
        "view, as the public SCALE code), weighted k-NN (k = 20) on the views' mean, centred by the training mean.\n\n"
        f"{table}\n\n![study]({png})\n\n"
        f"Run: `python -m scale_video.study --seeds {list(cfg.seeds)} --steps {steps}"
        + "".join(f" --{k} {v}" for k, v in (("task", cfg.task), ("num_videos", cfg.num_videos),
                                            ("val_videos", cfg.val_videos), ("passes", cfg.passes)) if v is not None)
        + f"{' --quick true' if cfg.quick else ''}`.\n"
    )
    return StageResult(summary=summary, outputs=[str(plot)], details={"per_seed": per_seed, "steps": steps},
                       metrics={f"{r['method']} {m}": v for i, r in enumerate(per_seed[0])
                                for m in ("linear", "knn", "ft")
                                if math.isfinite(v := float(statistics.fmean(rr[i][m] for rr in per_seed)))})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m scale_video.study``: 0 on success, 2 on a config error."""
    return study_main(ScaleStudyConfig, study, argv, name="scale_video")


if __name__ == "__main__":
    raise SystemExit(main())
