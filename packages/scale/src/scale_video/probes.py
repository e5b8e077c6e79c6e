"""SCALE's evaluation probes on stored multi-view features (thesis sec. 4.3.1, "Evaluation").

The backbone stays frozen everywhere. Probes and baselines, all from the same code:

* ``linear`` (baseline): a linear softmax classifier on each view's frozen features, the softmax predictions
  of a video's views averaged ("the well-established ensembling approach", sec. 4.3.1);
* ``scale_linear``: the same on each view's frozen clip feature concatenated with the video's SET (CLS)
  token from the SCALE-trained predictor, averaged the same way ("a linear softmax head on the concatenation
  of the individual clip features and the [SET] token before averaging"; the public SCALE code,
  ``src/eval.py`` / ``LinearOnTop(append_h=False)``, concatenates the backbone's clip features ``x``, not the
  predictor's per-clip outputs, with ``set_cls``);
* ``knn`` / ``scale_knn``: DINO's weighted k-NN (k = 20) on l2-normalised video vectors, the views' mean of
  the frozen features, respectively of [frozen feature (+) SET token] (the same inputs as the linear probes,
  as in the public code's ``knn``), centred by the training videos' mean before normalising (the public code
  centres each split by its own mean; the training mean keeps test statistics out);
* ``mlp`` (baseline): a 2-layer MLP on the frozen features averaged over views;
* ``transformer`` (baseline): the predictor architecture from random initialisation with the SCALE_linear
  head (each view's [frozen feature (+) CLS], logits averaged over views), trained end to end on the labels;
* ``scale_ft``: the same network started from the SCALE-trained predictor (SCALE_ft);
* ``lowshot``: the five rows of Table 4.7 (linear, scale_linear, mlp, transformer, scale_ft; ``low_shot_probes``)
  trained on a 10 % class-balanced subset of the training videos and scored on every test video.

k-NN, the linear probe's grid search and the low-shot subsets are core's
(:mod:`sparse_core.eval`); the per-view linear probe picks its lr on a held-out split of the training views.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scale_video.component_config import LOW_SHOT_PROBES, PROBES, ProbeConfig
from scale_video.data import FeatureBank
from scale_video.model import SCALEPredictor
from sparse_core.config import ConfigError
from sparse_core.eval import ProtocolConfig, linear_probe, low_shot_indices, run_protocol

__all__ = ["LOW_SHOT_PROBES", "PROBES", "ProbeConfig", "encode_bank", "finetune_probe", "knn_probe", "run_probes",
           "softmax_average_probe", "with_set_token"]

NONLINEAR_PROBES = ("mlp", "transformer", "scale_ft")
"""Probes trained end to end by :func:`finetune_probe`."""


@torch.no_grad()
def encode_bank(predictor: SCALEPredictor, bank: FeatureBank, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """Predictor outputs of every view of every video, no masking, in eval mode.

    Returns:
        ``(clips, cls)`` on the CPU.

    Shape:
        -> clips (N, V, H), cls (N, H).
    """
    was = predictor.training
    predictor.eval()
    device = next(predictor.parameters()).device
    clips, cls = [], []
    for start in range(0, len(bank), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(bank)))
        f, b = bank.take(idx)
        c, x = predictor(f.to(device), b.to(device))
        clips.append(x.float().cpu())
        cls.append(c.float().cpu())
    predictor.train(was)
    return torch.cat(clips), torch.cat(cls)


def with_set_token(feats: Tensor, cls: Tensor) -> Tensor:
    """Every view's frozen clip feature followed by its video's SET token: the input of SCALE_linear.

    Shape:
        feats: (N, V, D), cls: (N, H) -> (N, V, D + H).
    """
    return torch.cat([feats, cls[:, None].expand(-1, feats.shape[1], -1).to(feats.dtype)], dim=-1)


def _cfg(cfg: ProbeConfig) -> ProtocolConfig:
    return ProtocolConfig(knn_k=cfg.knn_k, linear_epochs=cfg.linear_epochs, linear_lrs=list(cfg.linear_lrs),
                          seed=cfg.seed)


def softmax_average_probe(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, cfg: ProbeConfig,
                          num_classes: int) -> float:
    """Linear classifier on each view, softmax predictions averaged over a video's views; top-1 (%).

    The classifier is :func:`sparse_core.eval.linear_probe` (lr grid, selection on held-out views) trained on
    every view with its video's label.

    Shape:
        train_x: (N, V, F), train_y: (N,), test_x: (M, V', F), test_y: (M,).
    """
    n, v, d = train_x.shape
    res = linear_probe(train_x.reshape(n * v, d), train_y.repeat_interleave(v), test_x[:, 0], test_y,
                       lrs=cfg.linear_lrs, batch_sizes=(256,), epochs=cfg.linear_epochs, use_bn=True,
                       num_classes=num_classes, seed=cfg.seed)
    model = res["model"].eval()
    with torch.no_grad():
        m, w = test_x.shape[:2]
        probs = model(test_x.reshape(m * w, d).float()).softmax(-1).reshape(m, w, -1).mean(1)  # (M, C)
    return float((probs.argmax(1) == test_y).float().mean() * 100)


def knn_probe(train_v: Tensor, train_y: Tensor, test_v: Tensor, test_y: Tensor, cfg: ProbeConfig,
              num_classes: int) -> float:
    """Weighted k-NN top-1 (%) on video vectors centred by the training mean, then l2-normalised (core's
    protocol, k-NN step only; centring as the public SCALE code's ``knn``).

    Shape:
        train_v: (N, F), test_v: (M, F).
    """
    pc = _cfg(cfg)
    pc.linear = False
    mean = train_v.float().mean(0, keepdim=True)
    return float(run_protocol(train_v - mean, train_y, test_v - mean, test_y, pc, num_classes)["knn_top1"])


class _SetClassifier(nn.Module):
    """A predictor with the SCALE_linear head trained through it (SCALE_ft and the transformer baseline).

    As the public SCALE code's fine-tuning (``src/eval.py``: the predictor, trainable, under the same
    ``LinearOnTop``): a linear head on each view's [frozen clip feature (+) SET token], the views' logits
    averaged (its ``avg_logits`` output mode).

    Shape:
        feats: (B, V, D), boxes: (B, V, 6) -> logits (B, C).
    """

    def __init__(self, predictor: SCALEPredictor, num_classes: int) -> None:
        super().__init__()
        self.predictor = predictor
        self.head = nn.Linear(predictor.in_dim + predictor.width, num_classes)

    def forward(self, feats: Tensor, boxes: Tensor) -> Tensor:
        cls, _ = self.predictor(feats, boxes)
        return self.head(with_set_token(feats, cls)).mean(1)


class _MeanMLP(nn.Module):
    """2-layer MLP on the frozen features averaged over views (the MLP baseline)."""

    def __init__(self, in_dim: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.BatchNorm1d(in_dim, affine=False), nn.Linear(in_dim, hidden), nn.GELU(),
                                 nn.Dropout(0.1), nn.Linear(hidden, num_classes))

    def forward(self, feats: Tensor, boxes: Tensor) -> Tensor:
        return self.mlp(feats.mean(1))


def finetune_probe(model: nn.Module, train: FeatureBank, test: FeatureBank, cfg: ProbeConfig) -> float:
    """Train ``model(feats, boxes) -> logits`` on the training videos with AdamW + cosine; test top-1 (%).

    Args:
        model: the classifier (its device is used).
        train: training videos (all views).
        test: test videos.
        cfg: epochs, lr, weight decay, batch size, seed.
    """
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.ft_lr, weight_decay=cfg.ft_weight_decay)
    n = len(train)
    steps_per_epoch = max(1, math.ceil(n / cfg.ft_batch_size))
    total, step = cfg.ft_epochs * steps_per_epoch, 0
    model.train()
    for _ in range(cfg.ft_epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.ft_batch_size:(i + 1) * cfg.ft_batch_size]
            if len(idx) < 2:
                continue
            for group in opt.param_groups:
                group["lr"] = cfg.ft_lr * 0.5 * (1 + math.cos(math.pi * step / total))
            f, b = train.take(idx)
            loss = F.cross_entropy(model(f.to(device), b.to(device)), train.label[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test), 512):
            idx = torch.arange(start, min(start + 512, len(test)))
            f, b = test.take(idx)
            correct += int((model(f.to(device), b.to(device)).argmax(1).cpu() == test.label[idx].cpu()).sum())
    return 100.0 * correct / max(1, len(test))


def _nonlinear_probe(name: str, predictor: SCALEPredictor | None, train: FeatureBank, test: FeatureBank,
                     cfg: ProbeConfig, num_classes: int) -> float:
    """One of :data:`NONLINEAR_PROBES` trained on ``train`` and scored on ``test``; top-1 (%).

    ``mlp``: the MLP baseline on the frozen features; ``transformer``: the predictor's architecture from random
    init under the SCALE_linear head; ``scale_ft``: a copy of the SCALE-trained ``predictor`` under that head.
    """
    torch.manual_seed(cfg.seed)
    if name == "mlp":
        hidden = 2 * (predictor.width if predictor is not None else SCALEPredictor(1).width)
        model: nn.Module = _MeanMLP(train.dim, hidden, num_classes)
    elif predictor is None:
        raise ValueError(f"the {name} probe needs a predictor")
    elif name == "transformer":
        model = _SetClassifier(SCALEPredictor(train.dim, predictor.cfg), num_classes)
    else:
        model = _SetClassifier(copy.deepcopy(predictor), num_classes)
    return finetune_probe(model.to(train.device), train, test, cfg)


def require_labels(bank: FeatureBank, key: str, probes: list[str]) -> None:
    """Refuse a store of unlabelled videos (a flat folder: label -1) before any probe runs.

    Raises:
        ConfigError: naming ``key``, the probes that need labels and how to give them (class folders).
    """
    unlabelled = int((bank.label < 0).sum())
    if unlabelled:
        raise ConfigError(f"{key}: {unlabelled} of {len(bank.label)} videos have no label (extracted from a flat "
                          f"folder); the probes {', '.join(probes)} need class labels: extract from class "
                          f"folders root/<class>/<video> or a list file with labels")


def run_probes(predictor: SCALEPredictor | None, train: FeatureBank, test: FeatureBank, cfg: ProbeConfig,
               num_classes: int | None = None) -> dict[str, Any]:
    """Every probe of ``cfg.probes`` for a SCALE-trained ``predictor`` and its frozen base; top-1 in %.

    Args:
        predictor: the SCALE-trained predictor (kept unchanged; SCALE_ft trains a copy); None when only the
            frozen-base probes (``linear``, ``knn``, ``mlp``) run.
        train: training videos in evaluation mode (V views each).
        test: test videos.
        cfg: probes and hyper-parameters.
        num_classes: C (default from the labels).

    Returns:
        ``{probe: top-1}``; ``lowshot`` gives ``{"fraction": f, <each of cfg.low_shot_probes>: top-1}``.

    Raises:
        ValueError: a probe of the predictor requested without one.
    """
    c = num_classes or max(train.num_classes, test.num_classes)
    ytr, yte = train.label.cpu(), test.label.cpu()
    want = set(cfg.probes)
    out: dict[str, Any] = {}
    if predictor is None and want & {"scale_linear", "scale_knn", "lowshot", "transformer", "scale_ft"}:
        raise ValueError("the probes of SCALE's predictor (and the transformer baseline) need a predictor")
    if predictor is not None:
        predictor = predictor.to(train.device)
    tr_f, te_f = train.feats.float().cpu(), test.feats.float().cpu()
    if predictor is not None and want & {"scale_linear", "scale_knn", "lowshot"}:
        tr_sv = with_set_token(tr_f, encode_bank(predictor, train)[1])
        te_sv = with_set_token(te_f, encode_bank(predictor, test)[1])
    if "linear" in want:
        out["linear"] = softmax_average_probe(tr_f, ytr, te_f, yte, cfg, c)
    if "scale_linear" in want:
        out["scale_linear"] = softmax_average_probe(tr_sv, ytr, te_sv, yte, cfg, c)
    if "knn" in want:
        out["knn"] = knn_probe(tr_f.mean(1), ytr, te_f.mean(1), yte, cfg, c)
    if "scale_knn" in want:
        out["scale_knn"] = knn_probe(tr_sv.mean(1), ytr, te_sv.mean(1), yte, cfg, c)
    for name in NONLINEAR_PROBES:
        if name in want:
            out[name] = _nonlinear_probe(name, predictor, train, test, cfg, c)
    if "lowshot" in want:
        idx = low_shot_indices(ytr, fraction=cfg.low_shot_fraction, seed=cfg.seed)
        low: dict[str, float] = {"fraction": cfg.low_shot_fraction}
        for name in cfg.low_shot_probes:
            if name == "linear":
                low[name] = softmax_average_probe(tr_f[idx], ytr[idx], te_f, yte, cfg, c)
            elif name == "scale_linear":
                low[name] = softmax_average_probe(tr_sv[idx], ytr[idx], te_sv, yte, cfg, c)
            else:
                low[name] = _nonlinear_probe(name, predictor, train.select(idx), test, cfg, c)
        out["lowshot"] = low
    return out
