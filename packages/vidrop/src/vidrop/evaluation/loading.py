"""Loading a trained ViDROP backbone for evaluation."""

from __future__ import annotations

from pathlib import Path

from sparse_core.export import load_checkpoint_file, load_weights
from vidrop.model import ViDROPEncoder

__all__ = ["load_backbone"]

TEACHER_PREFIX = "teacher.module.backbone."


def load_backbone(encoder: ViDROPEncoder, path: str | Path) -> None:
    """Load weights into ``encoder``.

    Accepts the exported ``teacher_backbone.safetensors`` of ``vidrop-train`` or an engine checkpoint
    (``checkpoints/step_*.pt``, whose ``"task"`` state holds the EMA teacher under ``teacher.module.backbone.``).
    The MSK token is not needed for evaluation and may be absent.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        res = load_weights(encoder, path, strict=False)
        missing = [k for k in res.missing_keys if k != "vit.mask_token"]
        if missing or res.unexpected_keys:
            raise KeyError(f"{path}: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}")
        return
    state = load_checkpoint_file(path)
    state = state.get("task", state)
    sub = {k[len(TEACHER_PREFIX):]: v for k, v in state.items() if k.startswith(TEACHER_PREFIX)}
    if not sub:
        raise KeyError(f"{path} holds no '{TEACHER_PREFIX}*' weights (not a vidrop-train checkpoint?)")
    res = encoder.load_state_dict(sub, strict=False)
    missing = [k for k in res.missing_keys if k != "vit.mask_token"]
    if missing or res.unexpected_keys:
        raise KeyError(f"{path}: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}")
