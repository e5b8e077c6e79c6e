"""Loading a trained ViDROP backbone for evaluation."""

from __future__ import annotations

from pathlib import Path

from sparse_core.export import read_state_dict
from vidrop.model import ViDROPEncoder

__all__ = ["load_backbone"]

TEACHER_PREFIX = "teacher.module.backbone."


def load_backbone(encoder: ViDROPEncoder, path: str | Path) -> None:
    """Load weights into ``encoder``.

    Accepts the exported ``teacher_backbone.safetensors`` of ``vidrop-train`` or an engine checkpoint
    (``checkpoints/ckpt_*.pt``, whose ``"task"`` state holds the EMA teacher under ``teacher.module.backbone.``).
    The MSK token is not needed for evaluation and may be absent.

    Raises:
        KeyError: weights missing from or unexpected in the file (or no teacher in a checkpoint).
    """
    path = Path(path)
    select = None if path.suffix == ".safetensors" else TEACHER_PREFIX
    res = encoder.load_state_dict(read_state_dict(path, select=select), strict=False)
    missing = [k for k in res.missing_keys if k != "vit.mask_token"]
    if missing or res.unexpected_keys:
        raise KeyError(f"{path}: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}")
