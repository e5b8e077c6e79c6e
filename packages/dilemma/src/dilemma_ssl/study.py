"""Study: dense MoCo v3 and SimCLR vs +Sparsity vs +DILEMMA (sum, eq. 3.1) vs +DILEMMA (mean, ablation), at
equal epochs (or equal steps) and equal wall-clock, with the mismatch head's metrics along training.

Not a test. The Fashion-MNIST setting needs the Debian package ``dataset-fashion-mnist`` (or
``$SPARSE_SSL_FASHION_MNIST``); ``--setting tiny`` trains the shipped tiny config on generated shapes. Writes
``<out>/study.md``, ``<out>/study.json`` and ``<out>/study.png`` (learning curves and final k-NN with error
bars), and the runs under ``<out>/seed<s>/``; ``--doc packages/dilemma/docs/study.md`` also refreshes the
package's documentation page (the figure is copied next to it)::

    python -m dilemma_ssl.study --seeds [0,1,2] --out runs/dilemma-study --doc packages/dilemma/docs/study.md

The plateau study of the mismatch head (docs/study.md gives the measured part and the full command)::

    python -m dilemma_ssl.study --setting tiny --steps 1500 --batch 32 --train_samples 1024 --budget steps \\
        --lr_schedule constant --curve_points 10 --equal_time false --seeds [0,1,2] \\
        --methods '["MoCo v3 (dense)", "+Sparsity", "+DILEMMA (sum)", "+DILEMMA (mean)"]'

Budgets (thesis Tables 3.1 / 3.12 compare at equal epochs): the dense runs train ``--steps`` steps of batch
``--batch``; the sparse runs see as many images (equal epochs: fewer, larger steps, since the random schedule's
batch is 2.5x the base batch on average); the equal-time rows give each sparse method the number of steps
that costs as much as the dense MoCo v3 run (a step-cost ratio measured in CPU time, see :func:`step_costs`).
Each run's numbers are cached in its folder (``study_row.json``), so a study that was interrupted, or whose
seeds ran as separate processes into the same ``--out``, continues where it stopped.
Tables report mean ± std over the seeds (:func:`sparse_core.suite.study_main`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dilemma_ssl import evaluate as ev
from dilemma_ssl.config import POS_EMBEDS, DataConfig, DilemmaRunConfig, EvalConfig, MethodConfig
from dilemma_ssl.data import build_eval_datasets
from dilemma_ssl.presets import small_vit
from dilemma_ssl.runner import CONFIG_DIR, build_schedule, build_task, train
from sparse_core.config import parse_config
from sparse_core.engine import OptimConfig, TrainConfig
from sparse_core.figures import study_figure
from sparse_core.report import markdown_table, seed_mean, seed_summary
from sparse_core.study_cache import cached_row
from sparse_core.suite import StageResult, StudyConfig, study_main
from sparse_core.validation import check_choice, check_float, check_int

__all__ = ["METHODS", "DilemmaStudyConfig", "config", "main", "run_one", "scores", "study"]

DENSE = dict(objective="none", lambda_dilemma=0.0, sparsity=[0.0], batch_multipliers=[1])
METHODS: dict[str, dict[str, Any]] = {
    "MoCo v3 (dense)": dict(variant="mocov3", **DENSE),
    "SimCLR (dense)": dict(variant="simclr", **DENSE),
    "+Sparsity": dict(variant="mocov3", objective="none", lambda_dilemma=0.0),
    "+DILEMMA (sum)": dict(variant="mocov3", objective="dilemma", token_reduction="sum"),
    "+DILEMMA (mean)": dict(variant="mocov3", objective="dilemma", token_reduction="mean"),
}
"""The compared methods; +Sparsity and +DILEMMA are MoCo v3 with the random schedule (0/40/55/65 % dropped,
batch x1/x2/x3/x4), +DILEMMA adds the mismatch loss (theta 0.2, lambda 0.4): '(sum)' as eq. 3.1 (the sum of
the per-token BCE over each image's kept tokens, summed over the two views), '(mean)' the mean-over-tokens
ablation (``method.token_reduction: mean``)."""
SPARSE = ("+Sparsity", "+DILEMMA (sum)")
"""The methods that also get an equal-wall-clock row."""
SETTINGS = ("fashion_mnist", "tiny")
"""'fashion_mnist': the small ViT on 28 px Fashion-MNIST (49 tokens); 'tiny': the shipped ``tiny`` config's ViT
(width 64, 4 blocks, 36 tokens) on the generated 24 px shapes (no package needed, ~0.5 s a step on one core)."""
LR_SCHEDULES = ("cosine", "constant")
"""'cosine': linear warm-up over 10 % of the steps, then cosine to 1e-5; 'constant': the same warm-up, then
the peak lr held (the token loss needs ~500+ steps at a high lr to leave its plateau, docs/study.md)."""
RANDOM = "random init (no training)"
RANDOM_SIMCLR = "random init, SimCLR's init (no training)"
"""The untrained baselines: MoCo v3's initialisation (Xavier-uniform linears, its patch-projection bound; the
init of every MoCo v3 row) and the timm default the SimCLR variant keeps (truncated normal, std 0.02)."""


def slug(name: str) -> str:
    """Folder name of a method: ``"+DILEMMA (sum)"`` -> ``"+DILEMMA_sum"``."""
    return re.sub(r"[^A-Za-z0-9+]+", "_", name).strip("_")


def config(name: str, steps: int, out: Path, base_batch: int, train_samples: int, seed: int = 0,
           pos_embed_type: str = "learned", setting: str = "fashion_mnist", lr_schedule: str = "cosine",
           curve_points: int = 4, lambda_dilemma: float = 0.4) -> DilemmaRunConfig:
    """The study's config of method ``name``.

    ``setting="fashion_mnist"``: the small ViT on 28 px Fashion-MNIST (patch 4: 7 x 7 tokens), following the
    SimCLR reference recipe of the issue that asked for this study (learned position embeddings, trained patch
    embedding, AdamW lr 1e-3, weight decay 0.1), the same for every method so that only the method differs;
    ``pos_embed_type="sincos"`` gives every method MoCo v3's fixed 2-D sin-cos positions instead (measured: +6.5
    k-NN points for the MoCo v3 rows at 400 steps, docs/study.md). ``setting="tiny"``: the shipped ``tiny``
    config's model and generated shapes (its own positions, sin-cos), same optimiser. ``lr_schedule``: 10 %
    warm-up, then cosine to 1e-5 or the peak lr held ('constant'). ``curve_points`` checkpoints along the run
    feed the learning curves (k-NN and mismatch AUROC). ``lambda_dilemma`` replaces eq. 3.4's 0.4 in the
    methods with a token loss (a probe of the plateau, not the thesis).
    """
    check_choice("setting", setting, SETTINGS)
    check_choice("lr_schedule", lr_schedule, LR_SCHEDULES)
    method = dict(METHODS[name])
    if method.get("objective") == "dilemma":
        method["lambda_dilemma"] = lambda_dilemma
    every = max(1, steps // curve_points)
    train_cfg = TrainConfig(out_dir=str(out), max_steps=steps, batch_size=base_batch, progress=False, log_every=25,
                            ckpt_every=every, keep_last=curve_points + 2, resume="none", seed=seed)
    lr = 1e-3
    optim = OptimConfig(lr=lr, warmup_steps=max(1, steps // 10), weight_decay=0.1,
                        min_lr=lr if lr_schedule == "constant" else 1e-5)
    if setting == "tiny":
        tiny = parse_config(DilemmaRunConfig, ["--config", "tiny"], config_dir=CONFIG_DIR)
        return DilemmaRunConfig(
            model=tiny.model, method=MethodConfig(**method), data=tiny.data,
            eval=dataclasses.replace(tiny.eval, segmentation=False, max_train_samples=train_samples),
            train=train_cfg, optim=optim)
    return DilemmaRunConfig(
        model=small_vit(img_size=28, patch_size=4, pos_embed_type=pos_embed_type, freeze_patch_embed=False),
        method=MethodConfig(**method),
        data=DataConfig(name="fashion_mnist", min_scale=0.3, augment="light"),
        eval=EvalConfig(linear_epochs=30, max_train_samples=train_samples, max_test_samples=2000),
        train=train_cfg,
        optim=optim,
    )


class _Banks:
    """The evaluation images of the study (k-NN bank and test split), built once per process."""

    def __init__(self, cfg: DilemmaRunConfig) -> None:
        tr_ds, te_ds = build_eval_datasets(cfg.data, cfg.model)
        self.train = ev.subsample(tr_ds, cfg.eval.max_train_samples)
        self.test = ev.subsample(te_ds, cfg.eval.max_test_samples)


_BANKS: dict[tuple[Any, ...], _Banks] = {}


def _banks(cfg: DilemmaRunConfig) -> _Banks:
    key = (cfg.data.name, cfg.model.img_size, cfg.eval.max_train_samples, cfg.eval.max_test_samples)
    if key not in _BANKS:
        _BANKS[key] = _Banks(cfg)
    return _BANKS[key]


MD_SPARSITY = 0.55
"""Sparsity at which the study scores the mismatch head (22 of 49 tokens kept, 4 corrupted; tiny: 16 of 36, 3)."""


def md_scores(task: torch.nn.Module, cfg: DilemmaRunConfig, full: bool = True) -> dict[str, float]:
    """Mismatch metrics of the task's head at 55 % sparsity and on dense inputs (Table 3.10's setting).

    Returns:
        ``md_acc``, ``md_auroc``, ``md_bce_rel`` and (``full``) ``md_prior_acc``, ``md_undetectable``,
        ``md_acc_detectable`` at 55 %; ``md_acc_dense``, ``md_auroc_dense`` (``full``: ``md_bce_rel_dense``)
        dense. NaN for methods without a mismatch head.
    """
    test = _banks(cfg).test
    sparse = ev.mismatch_metrics(task.backbone, task.objective, test, MD_SPARSITY)
    dense = ev.mismatch_metrics(task.backbone, task.objective, test, 0.0)
    keys = ("acc", "auroc", "bce_rel") + (("prior_acc", "undetectable", "acc_detectable") if full else ())
    out = {f"md_{k}": sparse[k] for k in keys}
    out.update({f"md_{k}_dense": dense[k] for k in (("acc", "auroc", "bce_rel") if full else ("acc", "auroc"))})
    return out


def scores(task: torch.nn.Module, cfg: DilemmaRunConfig, knn_only: bool = False) -> dict[str, float]:
    """k-NN, Linear_F and the mismatch metrics (:func:`md_scores`) of a task's backbone (CLS features)."""
    banks = _banks(cfg)
    with ev.eval_mode(task):
        tr, te = ev.features(task.backbone, banks.train), ev.features(task.backbone, banks.test)
        out = {"knn": ev.knn_eval(tr, te, cfg.eval.knn_k, cfg.eval.knn_t)}
        if not knn_only:
            out["linear"] = ev.linear_f(tr, te, epochs=cfg.eval.linear_epochs)["top1"]
            out.update(md_scores(task, cfg))
    return out


def token_steps(cfg: DilemmaRunConfig, steps: int) -> int:
    """Steps among the first ``steps`` that carry the token loss (the thesis turns it off on dense steps)."""
    if cfg.method.objective == "none" or cfg.method.lambda_dilemma <= 0:
        return 0
    schedule = build_schedule(cfg)
    return sum(1 for i in range(steps) if schedule.ratio(i) > 0 or cfg.method.mismatch_on_dense)


def random_init(cfg: DilemmaRunConfig) -> dict[str, Any]:
    """The untrained baseline: the same architecture at the runs' initialisation (seed of ``cfg``)."""
    torch.manual_seed(cfg.train.seed)
    return {"steps": 0, "images": 0, "train_s": 0.0, **scores(build_task(cfg), cfg)}


def images_seen(cfg: DilemmaRunConfig, steps: int) -> int:
    """Training images of the first ``steps`` steps of the run (the schedule's batch of every step)."""
    schedule = build_schedule(cfg)
    return sum(schedule.batch_size(i) for i in range(steps))


def run_one(cfg: DilemmaRunConfig) -> dict[str, Any]:
    """Train (timed), then :func:`scores` of the final weights and k-NN of every checkpoint (the curve).

    The numbers are cached in ``<out_dir>/study_row.json`` and reused when the run's config is the same.
    """
    return cached_row(cfg.train.out_dir, dataclasses.asdict(cfg), lambda: _train_and_score(cfg))


def _train_and_score(cfg: DilemmaRunConfig) -> dict[str, Any]:
    """The uncached :func:`run_one`."""
    out = Path(cfg.train.out_dir)
    t0 = time.perf_counter()
    train(cfg, evaluate=False)
    seconds = time.perf_counter() - t0
    task = build_task(cfg)
    curve, md_curve = [], []
    has_head = task.objective.kind == "dilemma"
    for ckpt in sorted((out / "checkpoints").glob("ckpt_*.pt")):
        step = int(ckpt.stem.split("_")[1])
        task.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["task"])
        last = step == cfg.train.max_steps
        final = scores(task, cfg, knn_only=not last)
        curve.append((images_seen(cfg, step), final["knn"]))
        if has_head:
            md = final if last else md_scores(task, cfg, full=False)
            md_curve.append({"step": step, "token_steps": token_steps(cfg, step), "auroc": md["md_auroc"],
                             "auroc_dense": md["md_auroc_dense"], "bce_rel": md["md_bce_rel"],
                             "acc": md["md_acc"], "acc_dense": md["md_acc_dense"]})
    steps = cfg.train.max_steps or 0
    return {"steps": steps, "images": images_seen(cfg, steps), "token_steps": token_steps(cfg, steps),
           "train_s": seconds, **final, "curve": curve, "md_curve": md_curve}


@dataclass
class DilemmaStudyConfig(StudyConfig):
    """python -m dilemma_ssl.study: dense MoCo v3 / SimCLR vs +Sparsity vs +DILEMMA on Fashion-MNIST."""

    out: str = "runs/dilemma-study"
    """Output folder: study.md, study.json, study.png and one run folder per (seed, method)."""
    steps: int = 200
    """Training steps of the dense runs (the sparse runs see as many images). 400 is the SimCLR reference
    budget (71.9 % k-NN); 200 keeps a 3-seed study within about 1.5 hours on 2 cores."""
    batch: int = 128
    """Base batch size (the dense runs' batch)."""
    train_samples: int = 5000
    """k-NN / linear training subset (the test subset is 2000 images)."""
    pos_embed: str = "learned"
    """Position embeddings of every method's backbone: 'learned' (the SimCLR reference recipe) or 'sincos'
    (MoCo v3's fixed 2-D sin-cos); Fashion-MNIST setting only (the tiny config has its own, sin-cos)."""
    setting: str = "fashion_mnist"
    """'fashion_mnist' (the small ViT, 28 px, 49 tokens) or 'tiny' (the shipped tiny config on generated shapes,
    36 tokens; ~0.5 s a step on one core, so 1500 steps are ~12 min)."""
    lr_schedule: str = "cosine"
    """'cosine' (10 % warm-up, cosine to 1e-5) or 'constant' (the same warm-up, then lr 1e-3 held)."""
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    """The methods to train (names of METHODS); the random-init rows are always there."""
    equal_time: bool = True
    """Also train the equal-wall-clock rows of +Sparsity and +DILEMMA (sum) when they are among the methods."""
    budget: str = "epochs"
    """'epochs': the sparse runs see as many images as the dense ones (fewer, larger steps); 'steps': every run
    trains ``steps`` steps (the sparse runs then see ~2.5x the images)."""
    curve_points: int = 4
    """Checkpoints per run scored for the learning curves (k-NN; mismatch AUROC against token-loss steps)."""
    lambda_dilemma: float = 0.4
    """lambda of eq. 3.4 in the +DILEMMA methods (thesis: 0.4; a large value makes the token loss dominate, a
    probe of the plateau). Runs with another value get their own folders."""

    def __post_init__(self) -> None:
        """Refuse an unknown position embedding, setting, lr schedule or method before anything trains."""
        check_choice("pos_embed", self.pos_embed, POS_EMBEDS)
        check_choice("setting", self.setting, SETTINGS)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        for name in self.methods:
            check_choice("methods", name, tuple(METHODS))
        check_choice("budget", self.budget, ("epochs", "steps"))
        check_int("curve_points", self.curve_points, 1)
        check_float("lambda_dilemma", self.lambda_dilemma, 0.0, strict=False)


def step_costs(cfg: DilemmaRunConfig, repeats: int = 3) -> dict[str, float]:
    """CPU seconds of a sparse step (mean over the schedule's ratios) relative to a dense MoCo v3 step.

    Measured like the benchmark (warm-up, median of repeats, each ratio at its batch) with the process' CPU
    time, which a machine shared with other jobs does not inflate: the equal-time budget of a sparse run is
    ``dense steps / step_cost_ratio``. The ratio-0 step of the schedule is the dense step.
    """
    from dilemma_ssl.bench import epoch_time_ratio

    res = epoch_time_ratio(cfg.model, cfg.train.batch_size, torch.device("cpu"), repeats, method=cfg.method,
                           clock=time.process_time)
    per = res["per_ratio"]
    mean_step = sum(v["step_s"] for v in per.values()) / len(per)
    return {"step_cost_ratio": mean_step / per["0"]["step_s"], "epoch_time_ratio": res["epoch_time_ratio"]}


def _cached_step_costs(path: Path, cfg: DilemmaRunConfig) -> dict[str, float]:
    """:func:`step_costs`, measured once per (seed, method) and kept in ``path`` so that a resumed study gives
    its equal-time runs the same length (and finds them in their cache) instead of measuring again."""
    if path.is_file():
        return json.loads(path.read_text())
    cost = step_costs(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cost))
    tmp.replace(path)
    return cost


def _one_seed(cfg: DilemmaStudyConfig, seed: int, steps: int, train_samples: int) -> list[dict[str, Any]]:
    """The rows of the table for one training seed (random init, equal epochs, equal time)."""
    out = Path(cfg.out) / f"seed{seed}"

    def run_cfg(name: str, n: int, folder: Path) -> DilemmaRunConfig:
        return config(name, n, folder, cfg.batch, train_samples, seed, cfg.pos_embed, cfg.setting,
                      cfg.lr_schedule, cfg.curve_points, cfg.lambda_dilemma)

    def folder(name: str) -> str:
        tag = "" if cfg.lambda_dilemma == 0.4 or METHODS[name].get("objective") != "dilemma" else \
            f"_lambda{cfg.lambda_dilemma:g}"
        return slug(name) + tag

    base = run_cfg("+DILEMMA (sum)", steps, out / "random")
    simclr = run_cfg("SimCLR (dense)", steps, out / "random")
    rows: list[dict[str, Any]] = [{"method": RANDOM, "budget": "-", **random_init(base)},
                                  {"method": RANDOM_SIMCLR, "budget": "-", **random_init(simclr)}]
    images = steps * cfg.batch
    for name in cfg.methods:
        probe = run_cfg(name, steps, out)
        n = max(1, round(images / build_schedule(probe).mean_batch_size())) if cfg.budget == "epochs" else steps
        r = run_one(run_cfg(name, n, out / folder(name)))
        rows.append({"method": name, "budget": f"equal {cfg.budget}", **r})
        print({k: v for k, v in rows[-1].items() if k not in ("curve", "md_curve")}, flush=True)
    for name in (n for n in SPARSE if cfg.equal_time and n in cfg.methods and "MoCo v3 (dense)" in cfg.methods):
        # equal wall-clock: the number of steps whose measured cost equals the dense MoCo v3 run's
        cost = _cached_step_costs(out / f"step_costs_{slug(name)}.json", run_cfg(name, steps, out))
        n = max(1, round(steps / cost["step_cost_ratio"]))
        r = run_one(run_cfg(name, n, out / (folder(name) + "_time")))
        rows.append({"method": name + " ↑", "budget": "equal time", **r, "step_cost_ratio": cost["step_cost_ratio"]})
        print({k: v for k, v in rows[-1].items() if k not in ("curve", "md_curve")}, flush=True)
    return rows


def _figure(cfg: DilemmaStudyConfig, per_seed: list[list[dict[str, Any]]]) -> Path:
    """Learning curves (k-NN vs images seen, equal-epoch runs) and final k-NN of every row, over seeds."""
    random_knn = seed_mean(per_seed, "knn", method=RANDOM)
    def init_row(rows: list[dict[str, Any]], method: str) -> dict[str, Any]:
        return rows[1] if METHODS[method]["variant"] == "simclr" else rows[0]

    curves = {}
    for m in cfg.methods:
        runs = [[(0, init_row(rows, m)["knn"])] + [tuple(p) for p in next(x for x in rows if x["method"] == m)["curve"]]
                for rows in per_seed]
        # the random schedule's batches differ between seeds: put the i-th checkpoint of every seed at the
        # seeds' mean image count, so the band averages the same checkpoints
        if len({len(run) for run in runs}) == 1:
            xs = [sum(run[i][0] for run in runs) / len(runs) for i in range(len(runs[0]))]
            runs = [[(x, p[1]) for x, p in zip(xs, run)] for run in runs]
        curves[m] = runs
    labels = [r["method"] + (" (equal time)" if r["budget"] == "equal time" else "") for r in per_seed[0]]
    bars = {label: [rows[i]["knn"] for rows in per_seed] for i, label in enumerate(labels)}
    references = {"random init (MoCo v3 init)": random_knn,
                  "random init (SimCLR init)": seed_mean(per_seed, "knn", method=RANDOM_SIMCLR)}
    return study_figure(Path(cfg.out) / "study.png", curves, bars, references, "images seen",
                        "k-NN top-1 (%)", "Fashion-MNIST k-NN during training", "final k-NN (mean ± std)")


MD_COLUMNS = ("md_acc", "md_acc_dense", "md_auroc", "md_auroc_dense", "md_bce_rel", "md_undetectable",
              "md_acc_detectable")
"""The mismatch columns of the table (see :func:`md_scores`)."""

MD_FORMATS = {"md_auroc": ".3f", "md_auroc_dense": ".3f", "md_bce_rel": ".3f"}
"""Three decimals where the seeds differ in the third (AUROC, BCE / H(theta)); other columns ``".2f"``."""


def _md_curve_table(cfg: DilemmaStudyConfig, per_seed: list[list[dict[str, Any]]]) -> str:
    """Markdown: mismatch AUROC (55 % sparsity and dense) and BCE / H(theta) at every checkpoint of the
    DILEMMA runs, against the steps that carried the token loss (mean over seeds)."""
    rows = []
    for name in cfg.methods:
        if METHODS[name].get("objective") != "dilemma":
            continue
        runs = [next(r for r in rows_ if r["method"] == name)["md_curve"] for rows_ in per_seed]
        for i, point in enumerate(runs[0]):
            pts = [run[i] for run in runs if i < len(run)]

            def mean(key: str, pts: list[dict[str, Any]] = pts) -> float:
                return sum(pt[key] for pt in pts) / len(pts)

            rows.append({"method": name, "step": point["step"], "token-loss steps": mean("token_steps"),
                         "AUROC @55 %": mean("auroc"), "AUROC dense": mean("auroc_dense"),
                         "BCE / H(theta) @55 %": mean("bce_rel"), "acc @55 %": mean("acc"),
                         "acc dense": mean("acc_dense")})
    if not rows:
        return ""
    return markdown_table(rows, list(rows[0]), fmt={"token-loss steps": ".0f", "acc @55 %": ".2f",
                                                    "acc dense": ".2f", "AUROC @55 %": ".3f", "AUROC dense": ".3f",
                                                    "BCE / H(theta) @55 %": ".3f"})


def _describe(cfg: DilemmaStudyConfig, steps: int, train_samples: int, prior: float | None) -> str:
    """The setting paragraph of the study page."""
    if cfg.setting == "tiny":
        model = ("The shipped `tiny` config's ViT (4 blocks, width 64, 4 heads, 24 px, patch 4: 36 tokens, sin-cos "
                 "positions) on the generated 24 px shapes (5 classes)")
        k = "16 of the 36 tokens are kept and 3 corrupted"
    else:
        model = (f"Small ViT (4 blocks, width 96, 4 heads, 28 px, patch 4: 49 tokens, {cfg.pos_embed} positions) "
                 "on Fashion-MNIST")
        k = "22 of the 49 tokens are kept and 4 corrupted"
    lr = ("lr 1e-3 after a 10 % warm-up, then held constant" if cfg.lr_schedule == "constant"
          else "lr 1e-3, 10 % warm-up, cosine to 1e-5")
    budget = ("the sparse runs see as many images as the dense ones (equal epochs)" if cfg.budget == "epochs"
              else f"every run trains {steps} steps (equal steps; the sparse runs see ~2.5x the images)")
    prior_txt = f"{prior:.2f} %" if prior is not None else "the prior"
    return (
        f"{model}, dense runs {steps} steps of base batch {cfg.batch}, AdamW {lr}, MoCo v3 heads with a 3-layer "
        "projector and a 3-layer predictor (thesis sec. 3.2.2). +Sparsity and +DILEMMA (MoCo v3) use the random "
        f"schedule (0/40/55/65 % dropped, batch x1/x2/x3/x4); {budget}; the ↑ rows (equal time) train for the "
        "steps that cost as much as the dense MoCo v3 run (the ratio of a mean sparse step's to a dense step's "
        "CPU time, measured like the benchmark). +DILEMMA (sum) is eq. 3.1 (per-token BCE summed over each "
        f"image's kept tokens, mean over images, summed over the two views; lambda {cfg.lambda_dilemma:g}"
        + (" (thesis: 0.4)" if cfg.lambda_dilemma != 0.4 else "") + ", theta 0.2); +DILEMMA "
        "(mean) the mean-over-tokens-and-views ablation. k-NN (k=20, T=0.07) and Linear_F on frozen CLS "
        f"features ({train_samples} train images). Mismatch metrics on the test images at 55 % sparsity, where "
        f"{k}, so **{prior_txt} is the accuracy of answering 'correct position' for every token**, and dense "
        "(Table 3.10's setting): md_acc (threshold 0), md_auroc (0.5 = no signal), md_bce_rel = BCE / H(theta) "
        "(1 = no information), md_undetectable = % of the corrupted tokens whose patch is pixel-identical to the "
        "correct one (no model can detect them), md_acc_detectable = accuracy on the other tokens. "
        f"Mean ± std over training seeds {list(cfg.seeds)}."
    )


def study(cfg: DilemmaStudyConfig) -> StageResult:
    """Every seed's trainings, the Markdown table (mean ± std over seeds), the AUROC curve and the figure."""
    t_start = time.perf_counter()
    steps, train_samples = (20, 500) if cfg.quick else (cfg.steps, cfg.train_samples)
    per_seed = [_one_seed(cfg, seed, steps, train_samples) for seed in cfg.seeds]
    figure = _figure(cfg, per_seed)
    flat = [[{k: v for k, v in r.items() if k not in ("curve", "md_curve")} for r in rows] for rows in per_seed]
    merged = seed_summary(flat, key=["method", "budget"], fmt=MD_FORMATS)
    for row in merged:
        if METHODS.get(row["method"].removesuffix(" ↑"), {}).get("objective") != "dilemma":
            for col in MD_COLUMNS:
                row[col] = "-"
    sizes = "--quick true" if cfg.quick else f"--steps {steps} --batch {cfg.batch} --train_samples {train_samples}"
    defaults = DilemmaStudyConfig()
    for opt in ("pos_embed", "setting", "lr_schedule", "budget", "equal_time", "curve_points", "lambda_dilemma"):
        value = getattr(cfg, opt)
        if value != getattr(defaults, opt):
            sizes += f" --{opt} {str(value).lower() if isinstance(value, bool) else value}"
    if list(cfg.methods) != list(METHODS):
        sizes += " --methods '" + json.dumps(list(cfg.methods)) + "'"
    table = markdown_table(merged, ["method", "budget", "steps", "token_steps", "images", "train_s",
                                    "step_cost_ratio", "knn", "linear", *MD_COLUMNS, "seeds"])
    dilemma = [n for n in cfg.methods if METHODS[n].get("objective") == "dilemma"]
    prior = seed_mean(per_seed, "md_prior_acc", method=dilemma[0]) if dilemma else None
    curve = _md_curve_table(cfg, per_seed)
    summary = (
        "# DILEMMA: a small study\n\n" + _describe(cfg, steps, train_samples, prior) + "\n\n"
        f"{table}\n\n"
        + (f"Mismatch head along training (checkpoints; token-loss steps = steps whose input was sparse, the only "
           f"ones that carry the token loss):\n\n{curve}\n\n" if curve else "")
        + f"![learning curves and final k-NN]({figure.name})\n\n"
        f"Generated by `python -m dilemma_ssl.study {sizes} --seeds '{json.dumps(list(cfg.seeds))}'` in "
        f"{time.perf_counter() - t_start:.0f} s (cached runs are not retrained).\n"
    )
    if cfg.doc:
        Path(cfg.doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(figure, Path(cfg.doc).parent / figure.name)
    keys = {"dense": "MoCo v3 (dense)", "simclr": "SimCLR (dense)", "sparsity": "+Sparsity",
            "dilemma": "+DILEMMA (sum)", "dilemma_mean": "+DILEMMA (mean)"}
    headline = {"knn_" + key: seed_mean(per_seed, "knn", method=name) for key, name in keys.items()
                if name in cfg.methods}
    headline.update({"knn_random": seed_mean(per_seed, "knn", method=RANDOM),
                     "knn_random_simclr": seed_mean(per_seed, "knn", method=RANDOM_SIMCLR)})
    for key in ("dilemma", "dilemma_mean"):
        if keys[key] in cfg.methods:
            for col in ("md_acc", "md_auroc", "md_acc_dense", "md_auroc_dense", "md_bce_rel"):
                headline[f"{col}_{key}"] = seed_mean(per_seed, col, method=keys[key])
    return StageResult(metrics=headline, summary=summary, outputs=[str(figure)], details={"per_seed": per_seed})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dilemma_ssl.study``: 0 on success, 2 on a config error (e.g. Fashion-MNIST not found)."""
    return study_main(DilemmaStudyConfig, study, argv, "dilemma_ssl")


if __name__ == "__main__":
    raise SystemExit(main())
