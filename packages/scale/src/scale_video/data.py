"""Training data of SCALE: stored clip features held in memory (on the GPU when there is one).

The data path never decodes video: :class:`FeatureBank` holds the whole feature store as tensors and
:class:`IndexDataset` hands the engine's sampler nothing but row indices, so a step is a gather from device
memory (thesis sec. 4.2.3, "we can afford to use large minibatch sizes").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from scale_video.boxes import BOX_DIM

__all__ = ["FeatureBank", "IndexDataset", "synthetic_bank"]

FIELDS = ("feats", "boxes", "label", "video")


@dataclass
class FeatureBank:
    """Clip features of N samples (a video's sampled clips, one row per augmented pass).

    Attributes:
        feats: frozen clip features, shape ``(N, S, D)`` (float16 in the store).
        boxes: normalised boxes of eq. 4.5, shape ``(N, S, 6)`` float32.
        label: class of each sample, shape ``(N,)`` long.
        video: index of the source video of each sample, shape ``(N,)`` long.
    """

    feats: Tensor
    boxes: Tensor
    label: Tensor
    video: Tensor

    def __post_init__(self) -> None:
        """Check that the fields agree.

        Raises:
            ValueError: shapes that do not match.
        """
        n, s = self.feats.shape[:2]
        if self.boxes.shape != (n, s, BOX_DIM):
            raise ValueError(f"boxes must have shape {(n, s, BOX_DIM)}, got {tuple(self.boxes.shape)}")
        if self.label.shape != (n,) or self.video.shape != (n,):
            raise ValueError("label and video must hold one entry per sample")

    def __len__(self) -> int:
        return int(self.feats.shape[0])

    @property
    def num_clips(self) -> int:
        """Clips S stored per sample."""
        return int(self.feats.shape[1])

    @property
    def dim(self) -> int:
        """Feature width D."""
        return int(self.feats.shape[2])

    @property
    def num_classes(self) -> int:
        """``max(label) + 1``."""
        return int(self.label.max()) + 1 if len(self) else 0

    @property
    def device(self) -> torch.device:
        """Where the tensors are."""
        return self.feats.device

    def to(self, device: torch.device | str) -> FeatureBank:
        """The bank on ``device`` (self if already there)."""
        device = torch.device(device)
        if self.device == device:
            return self
        return FeatureBank(*(getattr(self, f).to(device) for f in FIELDS))

    def select(self, index: Tensor) -> FeatureBank:
        """The bank of rows ``index`` only (e.g. a low-shot subset of the training videos).

        Shape:
            index: (b,) -> a bank of b samples.
        """
        index = index.to(self.device)
        return FeatureBank(*(getattr(self, f)[index] for f in FIELDS))

    def take(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """Features and boxes of rows ``index`` (a gather on the bank's device).

        Shape:
            index: (b,) -> feats (b, S, D) float32, boxes (b, S, 6) float32.
        """
        index = index.to(self.device)
        return self.feats[index].float(), self.boxes[index].float()

    @classmethod
    def from_store(cls, root: str | Path, device: torch.device | str = "cpu") -> FeatureBank:
        """Load a feature store written by ``scale-extract`` (:class:`sparse_core.features.FeatureStore`)."""
        from sparse_core.features import FeatureStore

        arrays = FeatureStore(root).load(["feats", "boxes", "label", "video"], device)
        return cls(arrays["feats"], arrays["boxes"].float(), arrays["label"].long(), arrays["video"].long())


class IndexDataset(Dataset):
    """``n`` samples, each ``{"index": i}``: what the engine batches when the data sits in a FeatureBank."""

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, int]:
        return {"index": int(index)}


def synthetic_bank(num_samples: int = 64, num_clips: int = 16, dim: int = 32, num_classes: int = 4,
                   seed: int = 0) -> FeatureBank:
    """A small bank of random features with class structure (tests and smoke runs without a store).

    Each class has a mean direction; each video a random offset shared by its clips; each clip noise and a
    random box. Two samples per video.

    Args:
        num_samples: N (even).
        num_clips: S.
        dim: D.
        num_classes: C.
        seed: seed of a local generator.
    """
    g = torch.Generator().manual_seed(seed)
    videos = torch.arange(num_samples) // 2
    label = videos % num_classes
    centers = torch.randn(num_classes, dim, generator=g)
    offsets = torch.randn(int(videos.max()) + 1, dim, generator=g) * 0.5
    feats = centers[label][:, None] + offsets[videos][:, None] + 0.5 * torch.randn(num_samples, num_clips, dim,
                                                                                    generator=g)
    lo = torch.rand(num_samples, num_clips, 3, generator=g) * 0.5
    boxes = torch.cat([lo, lo + 0.5], dim=-1)
    return FeatureBank(feats.half(), boxes, label.long(), videos.long())
