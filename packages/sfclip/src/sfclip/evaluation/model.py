"""The trained SF-CLIP student as an encoder of images and captions (what every evaluation reads).

A run folder of ``sfclip-train`` holds ``config.yaml`` and ``sfclip_student.safetensors`` (both towers and the
logit scale, no teacher). The text tower's input table (the text teacher's frozen word embeddings) is not in
the file; it is rebuilt from the config with the teacher's tokenizer. ``sfclip-train`` builds the text teacher
first under ``seeded(train.seed)``, so a random teacher (``bert_tiny_random``) is rebuilt identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sfclip.config import SFCLIPConfig
from sfclip.teachers import build_text_teacher
from sfclip.towers import StudentTowers, build_towers
from sparse_core.cli import require_path
from sparse_core.config import parse_config
from sparse_core.engine.seeding import seeded
from sparse_core.export import load_weights

__all__ = ["CLIPEncoder", "WEIGHTS", "DENSE_FEATURES", "build_student", "load_run"]

DENSE_FEATURES = ("keys", "tokens")
"""Per-patch features of the zero-shot segmentation: the final attention keys (thesis) or the final tokens."""

WEIGHTS = "sfclip_student.safetensors"
"""File name of the student in a run folder (as ``sfclip-train`` writes it)."""


class CLIPEncoder(StudentTowers, nn.Module):
    """Both student towers and the tokenizer: images and captions to l2-normalised joint embeddings.

    Args:
        student: ``ModuleDict`` with ``vision`` (:class:`VisionTower`), ``text`` (:class:`TextTower`) and
            ``logit_scale``, as in :class:`sfclip.task.SFCLIPTask`.
        tokenizer: the text teacher's Hugging Face tokenizer.
    """

    def __init__(self, student: nn.ModuleDict, tokenizer: Any) -> None:
        super().__init__()
        self.student = student
        self.tokenizer = tokenizer

    def tokenize(self, captions: list[str]) -> dict[str, Tensor]:
        """Token ids and attention mask as in training (padded to the longest, cut at the context length)."""
        enc = self.tokenizer(captions, padding=True, truncation=True, max_length=self.text.context_length,
                             return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    @property
    def device(self) -> torch.device:
        """Device of the towers."""
        return self.vision.proj.weight.device

    @torch.no_grad()
    def encode_images(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """Image embeddings, in batches, on the CPU.

        Shape:
            images: (N, 3, H, W) in [0, 1] -> (N, embed_dim), unit norm.
        """
        self.eval()
        out = [self.vision(images[i : i + batch_size].to(self.device)).cpu()
               for i in range(0, images.shape[0], batch_size)]
        return torch.cat(out)

    @torch.no_grad()
    def pooled_features(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """Mean-pooled final tokens before the projection (the linear-probe features), on the CPU.

        Shape:
            images: (N, 3, H, W) -> (N, width).
        """
        self.eval()
        out = [self.vision.tokens(images[i : i + batch_size].to(self.device)).mean(dim=1).cpu()
               for i in range(0, images.shape[0], batch_size)]
        return torch.cat(out)

    @torch.no_grad()
    def dense_embeddings(self, images: Tensor, features: str = "keys") -> Tensor:
        """Per-patch features projected into the joint space by the tower's projection, l2-normalised.

        Args:
            images: the images.
            features: ``keys``: the last block's attention keys through the final norm (thesis sec. 7.3.2,
                following DenseCLIP); ``tokens``: the final tokens (the image embedding's inputs).

        Shape:
            images: (B, 3, H, W) -> (B, h, w, embed_dim) with (h, w) the patch grid.
        """
        if features not in DENSE_FEATURES:
            raise ValueError(f"dense features must be one of {DENSE_FEATURES}, got {features!r}")
        self.eval()
        x = images.to(self.device)
        tokens = self.vision.final_keys(x) if features == "keys" else self.vision.tokens(x)
        gh, gw = self.vision.grid
        return F.normalize(self.vision.proj(tokens), dim=-1).reshape(images.shape[0], gh, gw, -1).cpu()

    @torch.no_grad()
    def encode_texts(self, captions: Sequence[str], batch_size: int = 256) -> Tensor:
        """Caption embeddings, in batches, on the CPU.

        Shape:
            returns (len(captions), embed_dim), unit norm.
        """
        self.eval()
        out = []
        for i in range(0, len(captions), batch_size):
            enc = self.tokenize(list(captions[i : i + batch_size]))
            out.append(self.text(enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)).cpu())
        return torch.cat(out)


def build_student(cfg: SFCLIPConfig) -> CLIPEncoder:
    """Freshly initialised student towers of ``cfg`` (with the text teacher's table and tokenizer).

    Built as ``sfclip-train`` builds them (:class:`sfclip.task.SFCLIPTask` under ``seeded(cfg.train.seed)``):
    the text teacher under a forked RNG, then the towers from the seed's RNG state, so the towers are the
    initial weights of the run of that seed (the "random init" baseline of the demo and the study), whatever
    the process did before.
    """
    with seeded(cfg.train.seed):
        with torch.random.fork_rng(devices=[]):
            teacher = build_text_teacher(cfg.teacher.text, cfg.teacher.text_path)
        student = build_towers(cfg, teacher)
    return CLIPEncoder(student, teacher.tokenizer)


def load_run(run: str | Path) -> tuple[CLIPEncoder, SFCLIPConfig]:
    """The trained student of an ``sfclip-train`` run folder, and the run's config.

    Raises:
        ConfigError: the folder, its ``config.yaml`` or its weights are missing.
    """
    root = require_path(run, "run", "dir")
    cfg = parse_config(SFCLIPConfig, ["--config", str(require_path(root / "config.yaml", "run", "file"))])
    model = build_student(cfg)
    load_weights(model.student, require_path(root / WEIGHTS, "run", "file"), strict=True)
    return model.eval(), cfg
