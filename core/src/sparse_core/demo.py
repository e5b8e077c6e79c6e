"""sparse-core's stage of the main job: what token dropping does to a ViT, on embedded procedural data.

Writes under ``out_dir``:
- ``tokens.png``: a synthetic-shapes image with kept, dropped and mismatched (DILEMMA) patches;
- ``cost.md`` / ``cost.json``: counted FLOPs of ``sparse_vit_small_patch16_224`` per keep ratio, and under
  ``speed/`` its training-step time per keep ratio measured by the benchmark's code (interleaved rounds after
  warm-up on one pinned thread, paired medians, the load average beside them);
- ``knn.md``: k-NN accuracy of frozen features (random-init ViT) with all vs. a random half of the tokens,
  next to raw pixels, so later stages have a floor to compare against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from . import models  # noqa: F401  (registers the sparse_vit_* timm models)
from .data import SyntheticShapes
from .eval import extract_features, knn_classify
from .masking import mismatch_positions, random_keep_indices
from .report import markdown_table
from .suite import Headline, StageResult

__all__ = ["HEADLINE_KEEP", "demo_headline", "run"]

KEEP_RATIOS = (1.0, 0.35, 0.15, 0.05)
SPEED_ROUNDS = 5
"""Timed interleaved rounds of the speed table (each ratio is the median of this many pairs)."""
SPEED_THREADS = 1
"""torch threads of the speed table: one, so a neighbour job takes a core, not a share of every GEMM."""


def _flops_table(img_size: int = 224, batch: int = 4) -> list[dict[str, float]]:
    """Counted forward FLOPs of ``sparse_vit_small_patch16_224`` per keep ratio (no timing: see the speed table)."""
    import timm

    model: Any = timm.create_model("sparse_vit_small_patch16_224", img_size=img_size).eval()
    x = torch.randn(batch, 3, img_size, img_size)
    n = model.patch_embed.num_patches
    rows = []
    with torch.inference_mode():
        for keep in KEEP_RATIOS:
            idx = None if keep == 1.0 else random_keep_indices(batch, n, keep, torch.Generator().manual_seed(0))
            with FlopCounterMode(display=False) as counter:
                model.forward_features(x, keep_idx=idx)
            rows.append({"keep": keep, "tokens": n if idx is None else idx.shape[1],
                         "gflops": counter.get_total_flops() / 1e9})
    for r in rows:
        r["flops_ratio"] = r["gflops"] / rows[0]["gflops"]
    return rows


def _speed_table(out_dir: Path) -> StageResult:
    """Training-step speed per keep ratio from the benchmark's own code (interleaved rounds, paired medians).

    The same function as ``sparse-core-bench`` (:func:`sparse_core.bench.run`) with ViT-S/16 at 224 px, batch
    16, :data:`SPEED_ROUNDS` interleaved rounds (dense, 0.35, 0.15, 0.05, ...) after 2 warm-up rounds, on
    :data:`SPEED_THREADS` pinned thread, so the demo prints what the benchmark measures and a busy machine
    slows both sides of each ratio; the load average is printed beside the table.
    """
    from .bench import run as bench_run

    return bench_run(out_dir, models=("small",), keeps=KEEP_RATIOS, batch_size=16, repeats=SPEED_ROUNDS,
                     device="cpu", threads=SPEED_THREADS)


def _token_figure(path: Path, theta: float = 0.2, keep: float = 0.5) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    image = SyntheticShapes(8, image_size=128, seed=1)[3]["image"]
    grid, patch = 8, 16
    g = torch.Generator().manual_seed(0)
    keep_idx = random_keep_indices(1, grid * grid, keep, g)
    pos_idx, labels = mismatch_positions(keep_idx, grid * grid, theta, g)
    fig, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=120)
    axes[0].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0].set_title("input")
    shown = torch.full_like(image, 0.15)
    for slot, tok in enumerate(keep_idx[0].tolist()):
        r, c = divmod(tok, grid)
        shown[:, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = \
            image[:, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
        if labels[0, slot] > 0:
            axes[1].add_patch(Rectangle((c * patch, r * patch), patch - 1, patch - 1, fill=False, color="red", lw=2))
            pr, pc = divmod(int(pos_idx[0, slot]), grid)
            axes[1].annotate("", xy=(pc * patch + 8, pr * patch + 8), xytext=(c * patch + 8, r * patch + 8),
                             arrowprops={"arrowstyle": "->", "color": "red"})
    axes[1].imshow(shown.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[1].set_title(f"kept {keep:.0%} of tokens; red: given a dropped token's position")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _knn_floor(num_train: int = 600, num_test: int = 300) -> dict[str, float]:
    import timm

    torch.manual_seed(0)
    train, test = SyntheticShapes(num_train, 32, seed=0), SyntheticShapes(num_test, 32, seed=1)
    model: Any = timm.create_model("sparse_vit_tiny_patch16_224", img_size=32, patch_size=8).eval()
    n = model.patch_embed.num_patches

    def dense(x: torch.Tensor) -> torch.Tensor:
        return model.forward_features(x)[:, 0]

    def half(x: torch.Tensor) -> torch.Tensor:
        idx = random_keep_indices(x.shape[0], n, 0.5, torch.Generator().manual_seed(0))
        return model.forward_features(x, keep_idx=idx)[:, 0]

    out = {}
    for name, fn in (("pixels", lambda x: x.flatten(1)), ("random-init ViT, all tokens", dense),
                     ("random-init ViT, 50% tokens", half)):
        tr, ytr = extract_features(fn, train, batch_size=100)
        te, yte = extract_features(fn, test, batch_size=100)
        out[name] = knn_classify(tr, ytr, te, yte, k=20, T=0.07)
    return out


HEADLINE_KEEP = 0.35
"""Keep ratio of the core stage's headline (the training-step speed-up there)."""


def demo_headline(metrics: dict[str, float], keep: float = HEADLINE_KEEP) -> Headline:
    """The core stage's claim: training-step speed-up at ``keep`` vs dense (1.0), beside the ideal 1 / keep.

    Args:
        metrics: the stage's flat numbers, with ``step_small_keep{keep:g}_speedup``.
        keep: the keep ratio shown.

    Returns:
        the headline (a speed-up of at least 1.5x counts as clear).
    """
    return Headline(metric=f"training-step speed-up at keep {keep:g} (x)",
                    trained=metrics[f"step_small_keep{keep:g}_speedup"], baselines={"dense": 1.0},
                    references={"ideal 1/keep": 1.0 / keep}, clear_margin=0.5)


def run(out_dir: Path) -> StageResult:
    """Run the core stage into ``out_dir``; headline: step speed-up at keep 0.35; metrics: FLOPs, speed-ups, k-NN."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = _token_figure(out_dir / "tokens.png")
    rows = _flops_table()
    speed = _speed_table(out_dir / "speed")
    knn = _knn_floor()
    columns = {"keep": "keep", "tokens": "tokens", "gflops": "GFLOPs", "flops_ratio": "FLOPs vs dense"}
    cost = markdown_table(rows, columns, fmt={"flops_ratio": ".3f"}).splitlines()
    knn_md = markdown_table([{"features": k, "knn": v} for k, v in knn.items()],
                            {"features": "features (SyntheticShapes 32 px, 5 classes)", "knn": "k-NN top-1 %"},
                            fmt=".1f").splitlines()
    (out_dir / "cost.md").write_text("\n".join(cost) + "\n")
    (out_dir / "cost.json").write_text(json.dumps(rows, indent=2))
    (out_dir / "knn.md").write_text("\n".join(knn_md) + "\n")
    summary = ("sparse_vit_small_patch16_224 forward FLOPs, batch 4, 224 px (counted):\n\n" + "\n".join(cost)
               + f"\n\nTraining step (forward + backward + AdamW), ViT-S/16 224 px, batch 16, CPU, "
               f"{SPEED_THREADS} thread, {SPEED_ROUNDS} interleaved rounds after 2 warm-up rounds "
               "(`sparse_core.bench`):\n\n" + speed.summary
               + "\n\nk-NN (k=20, T=0.07) floor before any training:\n\n" + "\n".join(knn_md))
    print(summary)
    metrics = {f"flops_ratio_keep{r['keep']:g}": r["flops_ratio"] for r in rows if r["keep"] < 1}
    metrics.update({f"knn_{k.replace(' ', '_')}": v for k, v in knn.items()})
    metrics.update({f"step_{k}": v for k, v in speed.metrics.items()})
    return StageResult(headline=demo_headline(metrics), metrics=metrics, summary=summary,
                       outputs=[str(fig), str(out_dir / "cost.md"), str(out_dir / "knn.md"), *speed.outputs],
                       details={"knn": knn, "cost": rows, "speed": speed.details})
