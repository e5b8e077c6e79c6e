"""SCALE's small study (not a test): ``python -m scale_video.study --out runs/scale_study [--seeds [0,1,2]]
[--quick true] [--doc packages/scale/docs/study.md]`` (on :func:`sparse_core.suite.study_main`).

On the tiny features (``scale-extract --config tiny``, frozen ImageNet EfficientNet-Lite0) of one of the tasks
of :data:`scale_video.demo.TASKS` (``--task``): ``fashion`` (core's Moving Fashion-MNIST, the class is the main
garment's, held-out videos show unseen garments), ``fashion_motion`` (its heading), ``motion`` (the class is the
motion of a procedural shape) or ``shots`` (three shots, the class is how many distinct shape kinds they show, an
LVU-like whole-video question), for each seed:

* tiny SCALE vs its frozen base in the rows of thesis Tables 4.4-4.5 (k-NN / SCALE_k-NN, Linear /
  SCALE_linear, MLP, Transformer, SCALE_ft) on all training videos and, as Table 4.7, on a 10 % class-balanced
  subset (low-shot), scored on every held-out video; the margins SCALE - base per seed;
* the loss ablation MCM only / SET only / both (thesis Table 4.8), same probes (``--ablation false``: both only);
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
from scale_video.probes import PROBES, ProbeConfig, knn_probe, run_probes
from sparse_core.config import ConfigError, parse_config
from sparse_core.eval import linear_probe
from sparse_core.figures import seed_bars
from sparse_core.report import markdown_table, seed_summary
from sparse_core.suite import StageResult, StudyConfig, study_main

__all__ = ["MAIN", "THESIS_ROWS", "VARIANTS", "ScaleStudyConfig", "main", "margins", "study", "thesis_rows"]

VARIANTS = {"SCALE (MCM + SET)": (True, True), "SCALE (MCM only)": (True, False), "SCALE (SET only)": (False, True)}
MAIN = "SCALE (MCM + SET)"
THESIS_ROWS = [("k-NN", "knn"), ("SCALE_k-NN", "scale_knn"), ("Linear", "linear"), ("SCALE_linear", "scale_linear"),
               ("MLP", "mlp"), ("Transformer", "transformer"), ("SCALE_ft", "scale_ft")]
"""Rows of thesis Tables 4.4-4.5 (and 4.7, which has no k-NN rows) and the probe giving each."""
MARGINS = [("linear", "SCALE_linear - Linear", "scale_linear", "linear"),
           ("knn", "SCALE_k-NN - k-NN", "scale_knn", "knn")]
"""(key, label, SCALE probe, its base probe) of the margins the study reads."""


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
    """One of :data:`scale_video.demo.TASKS`: 'motion' (the tiny config's motion videos, class = the motion),
    'shots' (core's multi-shot ``shot_shapes`` videos of 3 shots x 16 frames, class = how many distinct shape
    kinds the shots show), 'fashion' (core's Moving Fashion-MNIST, class = the main garment's, unseen garments
    in the held-out videos) or 'fashion_motion' (its heading)."""
    ablation: bool = True
    """Also train SCALE with MCM only and SET only (thesis Table 4.8); false: MCM + SET only."""
    low_shot_fraction: float = 0.1
    """Fraction of each class's training videos of the low-shot columns (thesis Table 4.7: 10 %)."""

    def __post_init__(self) -> None:
        """Refuse an unknown task or a low-shot fraction outside ``(0, 1]``."""
        from scale_video.demo import TASKS

        if self.task not in TASKS:
            raise ConfigError(f"task: {self.task!r} is not one of {', '.join(TASKS)}")
        if not 0.0 < self.low_shot_fraction <= 1.0:
            raise ConfigError(f"low_shot_fraction must be in (0, 1], got {self.low_shot_fraction}")


def _train_and_probe(root: Path, feats: Path, seed: int, mcm: bool, set_: bool, steps: int,
                     train_set: FeatureBank, test_set: FeatureBank, probe: ProbeConfig,
                     overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Train SCALE (``scale-train --config tiny`` on ``feats/train``) and run ``probe`` on its predictor."""
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
    return run_probes(predictor, train_set, test_set, probe)


def _scale_row(name: str, res: dict[str, Any]) -> dict[str, Any]:
    return {"method": name, "linear": res["scale_linear"], "knn": res["scale_knn"], "ft": res["scale_ft"]}


def thesis_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One seed's rows of Tables 4.4-4.5 / 4.7 from :func:`run_probes` with every probe and ``lowshot``."""
    nan = float("nan")
    low = res.get("lowshot", {})
    return [{"probe": label, "all": float(res[key]), "lowshot": float(low.get(key, nan))}
            for label, key in THESIS_ROWS]


def margins(per_seed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SCALE minus its frozen base per seed (all videos and low-shot), against the seed spread of each.

    Args:
        per_seed: each seed's :func:`run_probes` result of the main variant.

    Returns:
        one row per margin: mean ± std of the difference, the larger std of the two probes, and whether the mean
        margin exceeds it (``clear``).
    """
    rows = []
    for key, label, ours, base in MARGINS:
        for column, pick in (("all", lambda r: r), ("lowshot", lambda r: r.get("lowshot", {}))):
            got = [pick(r) for r in per_seed]
            if not all(ours in g and base in g for g in got):
                continue
            diff = [g[ours] - g[base] for g in got]
            spread = max(_std([g[ours] for g in got]), _std([g[base] for g in got]))
            mean = statistics.fmean(diff)
            rows.append({"margin": f"{label} ({'10 % of the training videos' if column == 'lowshot' else 'all'})",
                         "key": f"{key}_{column}", "mean": mean, "std": _std(diff), "spread": spread,
                         "clear": mean > spread})
    return rows


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


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
    variants = VARIANTS if cfg.ablation else {MAIN: VARIANTS[MAIN]}
    per_seed: list[list[dict[str, Any]]] = []
    thesis: list[list[dict[str, Any]]] = []
    main_results: list[dict[str, Any]] = []
    for seed in cfg.seeds:
        common = {"seed": seed, "linear_epochs": 10 if cfg.quick else cfg.linear_epochs, "linear_lrs": [0.1, 1.0],
                  "low_shot_fraction": cfg.low_shot_fraction}
        full = ProbeConfig(probes=list(PROBES), **common)
        scale_only = ProbeConfig(probes=["scale_linear", "scale_knn", "scale_ft"], **common)
        rows: list[dict[str, Any]] = []
        for name, (mcm, set_) in variants.items():
            tag = ("mcm" if mcm else "") + ("set" if set_ else "")
            res = _train_and_probe(out / f"seed{seed}_{tag}", feats, seed, mcm, set_, steps, train_set, test_set,
                                   full if name == MAIN else scale_only, train_overrides)
            if name == MAIN:
                main_results.append(res)
                nan = float("nan")
                rows += [{"method": "frozen base (EfficientNet-Lite0)", "linear": res["linear"], "knn": res["knn"],
                          "ft": nan},
                         {"method": "MLP on the frozen base (views averaged)", "linear": nan, "knn": nan,
                          "ft": res["mlp"]},
                         _difference_row(train_set, test_set, full),
                         {"method": "transformer baseline: predictor from random init, trained on the labels",
                          "linear": nan, "knn": nan, "ft": res["transformer"]}]
                thesis.append(thesis_rows(res))
            rows.append(_scale_row(name, res))
        per_seed.append(rows)
        (out / "per_seed.json").write_text(json.dumps({"rows": per_seed, "thesis": thesis,
                                                       "probes": main_results}, indent=2))  # kept if a seed fails
    merged = seed_summary(per_seed, ["method"], fmt=".1f")
    table = markdown_table(merged, {"method": "features", "linear": "linear top-1 (%)", "knn": "k-NN top-1 (%)",
                                    "ft": "fine-tuned top-1 (%)", "seeds": "seeds"}, fmt=".1f")
    frac = f"{cfg.low_shot_fraction * 100:g} %"
    thesis_table = markdown_table(seed_summary(thesis, ["probe"], fmt=".1f"),
                                  {"probe": "probe", "all": "all training videos: top-1 (%)",
                                   "lowshot": f"{frac} of them (low-shot): top-1 (%)", "seeds": "seeds"}, fmt=".1f")
    gaps = margins(main_results)
    gap_table = markdown_table(
        [{"margin": g["margin"], "mean": f"{g['mean']:+.1f} ± {g['std']:.1f}", "spread": g["spread"],
          "clear": "yes" if g["clear"] else "no"} for g in gaps],
        {"margin": "SCALE - frozen base (points)", "mean": "mean ± std over seeds",
         "spread": "seed spread (larger std of the two)", "clear": "mean margin > seed spread"}, fmt=".1f")
    doc_dir = Path(cfg.doc).parent if cfg.doc else out
    doc_dir.mkdir(parents=True, exist_ok=True)
    png = f"{Path(cfg.doc).stem if cfg.doc else 'study'}.png"  # study.md -> study.png, study_shots.md -> ...
    c = max(train_set.num_classes, test_set.num_classes)
    plot = seed_bars(doc_dir / png, per_seed, [textwrap.fill(r["method"], 18) for r in per_seed[0]],
                     {"linear": "linear top-1", "knn": "knn top-1", "ft": "fine-tuned top-1"},
                     f"tiny SCALE vs frozen base ({len(per_seed)} seeds, mean ± std)",
                     references={"chance": 100 / c}, figsize=(9, 3.6))
    summary = (
        "# SCALE study: tiny SCALE vs its frozen base, and the loss ablation (thesis Tables 4.4-4.5, 4.7, 4.8)\n\n"
        f"Features: `scale-extract --config tiny` ({len(train_set)} training / {len(test_set)} held-out "
        f"{TASK_TEXT[cfg.task]}, {c} classes, chance {100 / c:.1f}%; frozen ImageNet EfficientNet-Lite0, "
        f"{train_set.num_clips} uniform views per video for the probes). SCALE: `scale-train --config tiny`, "
        f"{steps} steps per run; seeds {list(cfg.seeds)}{' (quick: not meaningful)' if cfg.quick else ''}.\n"
        "Probes on held-out videos: linear softmax-averaged over views (SCALE: frozen clip feature (+) SET token per "
        "view, as the public SCALE code), weighted k-NN (k = 20) on the views' mean, centred by the training mean; "
        "MLP, Transformer and SCALE_ft trained end to end on the labels (the backbone frozen).\n\n"
        f"**Tables 4.4-4.5 and 4.7 (low-shot: {frac} of each class's training videos, every held-out video "
        f"scored), SCALE (MCM + SET):**\n\n{thesis_table}\n\n"
        f"**Margins over the frozen base**, per seed then averaged:\n\n{gap_table}\n\n"
        f"**All rows** (the loss ablation of Table 4.8 where run):\n\n{table}\n\n![study]({png})\n\n"
        f"Run: `python -m scale_video.study --seeds {list(cfg.seeds)} --steps {steps}"
        + "".join(f" --{k} {v}" for k, v in (("task", cfg.task), ("num_videos", cfg.num_videos),
                                            ("val_videos", cfg.val_videos), ("passes", cfg.passes)) if v is not None)
        + f"{'' if cfg.ablation else ' --ablation false'}{' --quick true' if cfg.quick else ''}`.\n"
    )
    metrics = {f"{r['method']} {m}": v for i, r in enumerate(per_seed[0]) for m in ("linear", "knn", "ft")
               if math.isfinite(v := float(statistics.fmean(rr[i][m] for rr in per_seed)))}
    metrics.update({f"margin {g['key']}": g["mean"] for g in gaps})
    return StageResult(summary=summary, outputs=[str(plot)],
                       details={"per_seed": per_seed, "thesis": thesis, "margins": gaps, "steps": steps},
                       metrics=metrics)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m scale_video.study``: 0 on success, 2 on a config error."""
    return study_main(ScaleStudyConfig, study, argv, name="scale_video")


if __name__ == "__main__":
    raise SystemExit(main())
