"""Run the frozen-backbone protocols on a train / test split of labelled videos."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from sparse_core.data.collate import collate_skip_none
from sparse_core.eval import ProtocolConfig, run_protocol, train_attentive_probe
from vidrop.eval_config import PROTOCOLS, ProbeConfig
from vidrop.evaluation.clips import EvalClips
from vidrop.model import ViDROPEncoder

__all__ = ["ProbeConfig", "encode_dataset", "protocol_config", "run_protocols", "PROTOCOLS"]

log = logging.getLogger("vidrop.eval")


def protocol_config(cfg: ProbeConfig) -> ProtocolConfig:
    """sparse-core's protocol for ``cfg``: k-NN, linear probe with BN, linear-only low-shot runs."""
    return ProtocolConfig(knn="knn" in cfg.protocols, knn_k=cfg.knn_k, knn_temperature=cfg.knn_temperature,
                          linear="linear" in cfg.protocols, linear_epochs=cfg.linear_epochs,
                          linear_lrs=list(cfg.linear_lrs), linear_normalize=[True],
                          low_shot_fractions=list(cfg.low_shot_fractions) if "lowshot" in cfg.protocols else [],
                          low_shot_knn=False, seed=cfg.seed)


@torch.no_grad()
def encode_dataset(encoder: ViDROPEncoder, dataset: Dataset, cfg: ProbeConfig, keep_tokens: bool = False
                   ) -> tuple[Tensor, Tensor, Tensor | None, int]:
    """Multi-view-averaged clip features, labels, centre-view patch tokens, and the number skipped.

    Args:
        encoder: frozen backbone.
        dataset: items ``{"video": (T, H, W, 3) uint8, "label"}`` (``None`` for a corrupt file).
        cfg: views and feature kind.
        keep_tokens: also return the patch tokens of the centre view (for the attentive probe).

    Shape:
        returns feats ``(N, D_feat)``, labels ``(N,)``, tokens ``(N, K, D)`` float16 or None.
    """
    clips = EvalClips(dataset, cfg.num_frames, cfg.frame_stride, cfg.size, cfg.num_temporal, cfg.num_spatial)
    loader = DataLoader(clips, batch_size=cfg.batch_size, shuffle=False, collate_fn=collate_skip_none)
    device = next(encoder.parameters()).device
    encoder.eval()
    feats, labels, tokens, skipped = [], [], [], 0
    centre = (cfg.num_temporal * cfg.num_spatial) // 2
    for batch in loader:
        skipped += int(batch["num_skipped"])
        if "clips" not in batch:
            continue
        x: Tensor = batch["clips"].to(device)  # (B, V, 3, T, S, S)
        b, v = x.shape[:2]
        cls, patch = encoder(x.flatten(0, 1))  # (B*V, D), (B*V, K, D)
        if cfg.feature == "cls":
            f = cls
        elif cfg.feature == "avg":
            f = patch.mean(1)
        else:
            f = torch.cat([cls, patch.mean(1)], dim=-1)
        feats.append(f.view(b, v, -1).mean(1).float().cpu())
        labels.append(batch["label"].cpu())
        if keep_tokens:
            tokens.append(patch.view(b, v, *patch.shape[1:])[:, centre].half().cpu())
    if skipped:
        log.warning("%d unreadable videos skipped during feature extraction", skipped)
    return torch.cat(feats), torch.cat(labels), (torch.cat(tokens) if keep_tokens else None), skipped


def run_protocols(encoder: ViDROPEncoder, train_set: Dataset, test_set: Dataset, cfg: ProbeConfig,
                  num_classes: int) -> dict[str, Any]:
    """Run ``cfg.protocols``; returns top-1 accuracies (%) and bookkeeping.

    Keys: ``knn_top1``, ``linear_top1`` (+ ``linear_best_lr``), ``lowshot_top1`` ({fraction: top1}),
    ``attentive_top1``, ``num_train``, ``num_test``, ``skipped``.
    """
    unknown = set(cfg.protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocols {sorted(unknown)}; choose from {PROTOCOLS}")
    attentive = "attentive" in cfg.protocols
    tr_f, tr_y, tr_t, sk1 = encode_dataset(encoder, train_set, cfg, keep_tokens=attentive)
    te_f, te_y, te_t, sk2 = encode_dataset(encoder, test_set, cfg, keep_tokens=attentive)
    out: dict[str, Any] = {"num_train": len(tr_y), "num_test": len(te_y), "skipped": sk1 + sk2,
                           "feature_dim": int(tr_f.shape[1])}
    res = run_protocol(tr_f, tr_y, te_f, te_y, protocol_config(cfg), num_classes)
    if "knn_top1" in res:
        out["knn_top1"] = res["knn_top1"]
    if "linear" in res:
        out["linear_top1"], out["linear_best_lr"] = res["linear"]["top1"], res["linear"]["lr"]
    if "lowshot" in cfg.protocols:
        out["lowshot_top1"] = {str(frac): r["linear_top1"] for frac, r in res.get("lowshot", {}).items()}
    if attentive:
        assert tr_t is not None and te_t is not None
        att = train_attentive_probe(tr_t, tr_y, te_t, te_y, num_classes, epochs=cfg.attentive_epochs, seed=cfg.seed)
        out["attentive_top1"] = att["test_top1"]
    return out
