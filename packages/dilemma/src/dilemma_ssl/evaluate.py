"""Evaluations of a pre-trained backbone (thesis sec. 3.3): k-NN, Linear_F, few-shot, mismatch detection,
unsupervised object segmentation from CLS attention, and a linear per-token segmentation probe."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from dilemma_ssl.backbone import encode, num_prefix_tokens
from dilemma_ssl.config import EvalConfig
from dilemma_ssl.metrics import identical_swaps, mismatch_summary
from dilemma_ssl.objectives import TokenObjective
from sparse_core.data.collate import collate_skip_none
from sparse_core.engine.randomness import step_generator
from sparse_core.eval import ProtocolConfig, extract_features, linear_grid, linear_probe, run_protocol

__all__ = [
    "cls_features",
    "protocol_config",
    "protocol_metrics",
    "knn_eval",
    "linear_f",
    "eval_mode",
    "mismatch_metrics",
    "attention_masks",
    "attention_jaccard",
    "segmentation_probe",
    "subsample",
]


def subsample(dataset: Dataset, max_samples: int | None) -> Dataset:
    """At most ``max_samples`` evenly spaced items of ``dataset`` (all if None or smaller)."""
    n = len(dataset)  # type: ignore[arg-type]
    if max_samples is None or n <= max_samples:
        return dataset
    return Subset(dataset, torch.linspace(0, n - 1, max_samples).long().tolist())


def cls_features(backbone: nn.Module) -> Callable[[Tensor], Tensor]:
    """Feature function: last-layer CLS token of the dense input, (B, C, H, W) -> (B, D)."""

    def fn(x: Tensor) -> Tensor:
        return encode(backbone, x)[:, 0]

    return fn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode for the block, then give every submodule back the mode it had.

    Restores each submodule's own flag, so a module whose parts were in mixed modes (e.g. a frozen teacher in
    eval inside a training task) comes back exactly as it was.
    """
    saved = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for m, mode in saved:
            m.training = mode


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def protocol_config(e: EvalConfig) -> ProtocolConfig:
    """The core protocol as the thesis runs it (sec. 3.3): k-NN, Linear_F with and without normalisation,
    and k-NN + Linear_F on each few-shot fraction, seed 0."""
    return ProtocolConfig(
        knn_k=e.knn_k,
        knn_temperature=e.knn_t,
        linear=e.linear,
        linear_epochs=e.linear_epochs,
        linear_normalize=[False, True],
        low_shot_fractions=list(e.few_shot),
    )


def protocol_metrics(res: dict[str, Any]) -> dict[str, float]:
    """Flatten :func:`~sparse_core.eval.protocol.run_protocol`'s result to dilemma's keys.

    Returns:
        ``knn``, ``linear`` (Linear_F top-1, if run), ``fewshot_<p>_{knn,linear}`` with ``p`` like ``"1%"``.
    """
    out = {"knn": res["knn_top1"]}
    if "linear" in res:
        out["linear"] = res["linear"]["top1"]
    for frac, r in res.get("lowshot", {}).items():
        name = f"{frac * 100:g}%"
        out[f"fewshot_{name}_knn"], out[f"fewshot_{name}_linear"] = r["knn_top1"], r["linear_top1"]
    return out


def knn_eval(
    train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], k: int = 20, t: float = 0.07
) -> float:
    """Weighted k-NN top-1 (%) from precomputed (features, labels)."""
    cfg = ProtocolConfig(knn_k=k, knn_temperature=t, linear=False)
    return run_protocol(*train, *test, cfg)["knn_top1"]


def linear_f(
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    epochs: int = 100,
    lrs: Sequence[float] = (1e-3, 1e-2, 1e-1),
    batch_size: int = 256,
) -> dict[str, Any]:
    """Linear_F: a linear layer on frozen CLS features, no augmentation, grid over lr / normalisation.

    Returns:
        ``{"top1": test %, "val_top1", "lr", "batch_size", "normalize": bool}`` of the best validation run.
    """
    cfg = ProtocolConfig(
        linear_epochs=epochs, linear_lrs=list(lrs), linear_batch_size=batch_size, linear_normalize=[False, True]
    )
    c = int(max(train[1].max(), test[1].max())) + 1
    return linear_grid(*train, *test, cfg, c)


MISMATCH_KEYS = ("acc", "prior_acc", "auroc", "bce", "entropy", "bce_rel", "undetectable", "acc_detectable",
                 "acc_bound")
"""What :func:`mismatch_metrics` returns (see :func:`dilemma_ssl.metrics.mismatch_summary`)."""


@torch.no_grad()
def mismatch_metrics(
    backbone: nn.Module,
    objective: TokenObjective,
    dataset: Dataset,
    sparsity: float,
    batch_size: int = 256,
    seed: int = 0,
    max_batches: int | None = None,
) -> dict[str, float]:
    """Mismatch / flip detection of the head on corrupted inputs at ``sparsity`` (0: dense, Table 3.10's
    "MD Acc." setting, where the corrupted tokens swap positions among themselves).

    The kept tokens and their corruption are drawn with a fixed seed per batch, so the numbers are
    reproducible. The backbone and the objective are evaluated in eval mode and left in the modes they had.

    Returns:
        :func:`dilemma_ssl.metrics.mismatch_summary`'s dict (keys :data:`MISMATCH_KEYS`): accuracy, the
        prior's accuracy, AUROC, BCE against the prior's entropy H(theta), the share of corrupted tokens no
        model could detect (identical patches) and the accuracy on the others; NaN values for objectives
        without a detection head.
    """
    if not objective.active or objective.kind not in ("dilemma", "flip_detection"):
        return {k: float("nan") for k in MISMATCH_KEYS}
    dev = _device(backbone)
    logits_all, labels_all, hidden_all = [], [], []
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_skip_none)
    with eval_mode(backbone, objective):
        for i, batch in enumerate(loader):
            if "image" not in batch or (max_batches is not None and i >= max_batches):
                continue
            x = batch["image"].to(dev)
            corr = objective.draw(x.shape[0], 1.0 - sparsity, step_generator(seed, i, stream="eval")).to(dev)
            seen = objective.prepare_input(x, corr)
            tokens = encode(backbone, seen, corr.keep_idx, corr.pos_idx)
            assert objective.head is not None
            logits_all.append(objective.head(tokens[:, num_prefix_tokens(backbone) :]).squeeze(-1).float().cpu())
            labels_all.append(corr.labels.cpu())
            hidden_all.append(identical_swaps(seen, x, corr.keep_idx, corr.pos_idx, corr.labels,
                                              objective.patch_size).cpu())
    if not logits_all:
        return {k: float("nan") for k in MISMATCH_KEYS}
    return mismatch_summary(torch.cat([t.flatten() for t in logits_all]),
                            torch.cat([t.flatten() for t in labels_all]),
                            torch.cat([t.flatten() for t in hidden_all]))


def attention_masks(attn: Tensor, mass: float = 0.9) -> Tensor:
    """Keep the most attended patches that hold ``mass`` of the CLS attention (DINO's thresholding).

    Args:
        attn: (B, N) CLS attention over patches (rows sum to <= 1; renormalised here).
        mass: fraction of the attention mass kept.

    Returns:
        (B, N) bool.
    """
    a = attn / attn.sum(-1, keepdim=True).clamp_min(1e-12)
    vals, order = a.sort(dim=-1, descending=True)
    before = vals.cumsum(-1) - vals  # mass of the strictly more attended patches
    keep_sorted = before < mass
    return torch.zeros_like(keep_sorted).scatter(1, order, keep_sorted)


@torch.no_grad()
def attention_jaccard(
    backbone: nn.Module, dataset: Dataset, mass: float = 0.9, batch_size: int = 128
) -> float:
    """Mean Jaccard (%) between the CLS-attention mask (last layer, heads averaged, ``mass`` kept) and the
    ground-truth foreground mask (thesis Table 3.5; needs ``"mask"`` in the samples, e.g. SyntheticShapes)."""
    dev = _device(backbone)
    grid_h, grid_w = backbone.patch_grid
    prefix = num_prefix_tokens(backbone)
    scores: list[Tensor] = []
    with eval_mode(backbone):
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_skip_none):
            if "image" not in batch:
                continue
            x, gt = batch["image"].to(dev), batch["mask"].to(dev).bool()  # (B, C, H, W), (B, H, W)
            attn = backbone.get_last_selfattention(x)[:, :, 0, prefix:].mean(1)  # (B, N)
            m = attention_masks(attn, mass).reshape(-1, 1, grid_h, grid_w).float()
            m = nn.functional.interpolate(m, size=gt.shape[-2:], mode="nearest")[:, 0].bool()
            inter = (m & gt).flatten(1).sum(1).float()
            union = (m | gt).flatten(1).sum(1).float().clamp_min(1)
            scores.append(inter / union)
    return 100.0 * float(torch.cat(scores).mean()) if scores else float("nan")


@torch.no_grad()
def _token_labels(backbone: nn.Module, dataset: Dataset, batch_size: int) -> tuple[Tensor, Tensor]:
    """Per-patch features and labels (0 background, 1 + shape label where most of the patch is foreground)."""
    dev = _device(backbone)
    grid_h, grid_w = backbone.patch_grid
    prefix = num_prefix_tokens(backbone)
    feats, labels = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_skip_none):
        if "image" not in batch:
            continue
        x = batch["image"].to(dev)
        tokens = encode(backbone, x)[:, prefix:]  # (B, N, D)
        fg = (
            nn.functional.adaptive_avg_pool2d(batch["mask"].float()[:, None], (grid_h, grid_w)).flatten(1)
            > 0.5
        )
        lab = torch.where(fg, batch["label"][:, None] + 1, torch.zeros_like(fg, dtype=torch.long))
        feats.append(tokens.flatten(0, 1).float().cpu())
        labels.append(lab.flatten())
    return torch.cat(feats), torch.cat(labels)


def segmentation_probe(
    backbone: nn.Module, train: Dataset, test: Dataset, epochs: int = 20, batch_size: int = 128
) -> dict[str, float]:
    """Linear per-token segmentation probe on frozen patch tokens (iBOT-style linear segmentation, Table 3.4).

    Returns:
        ``{"miou": %, "acc": %}`` on the test patches (mIoU over classes present in the test set).
    """
    with eval_mode(backbone):
        xtr, ytr = _token_labels(backbone, train, batch_size)
        xte, yte = _token_labels(backbone, test, batch_size)
    c = int(max(ytr.max(), yte.max())) + 1
    r = linear_probe(
        xtr, ytr, xte, yte, lrs=(1e-2, 1e-1), batch_sizes=(1024,), epochs=epochs, use_bn=True, num_classes=c
    )
    with torch.no_grad():
        pred = r["model"](xte).argmax(1)
    ious = []
    for k in yte.unique().tolist():
        inter = ((pred == k) & (yte == k)).sum().item()
        union = ((pred == k) | (yte == k)).sum().item()
        ious.append(inter / max(union, 1))
    return {"miou": 100.0 * sum(ious) / len(ious), "acc": r["test_top1"]}


def features(backbone: nn.Module, dataset: Dataset, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """(CLS features (N, D), labels (N,)) of a labelled image dataset, in eval mode (the mode is restored)."""
    with eval_mode(backbone):
        return extract_features(cls_features(backbone), dataset, batch_size=batch_size,
                                device=_device(backbone))
