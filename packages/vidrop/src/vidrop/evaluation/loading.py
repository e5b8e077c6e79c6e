"""Loading a trained ViDROP backbone for evaluation."""

from __future__ import annotations

from pathlib import Path

from sparse_core.data.errors import WeightsFileError
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
        sparse_core.data.errors.WeightsFileError: the file is not a valid weight file, or its weights do not
            fit ``encoder`` (missing, unexpected or of another shape; no teacher in a checkpoint).
    """
    path = Path(path)
    select = None if path.suffix == ".safetensors" else TEACHER_PREFIX
    try:
        state = read_state_dict(path, select=select)
        res = encoder.load_state_dict(state, strict=False)
    except KeyError as err:  # no teacher in the checkpoint
        raise WeightsFileError(f"{path} is not a ViDROP backbone file: {err.args[0] if err.args else err}") from None
    except RuntimeError as err:  # shapes differ from the encoder's
        first = str(err).splitlines()[-1].strip() if str(err) else type(err).__name__
        raise WeightsFileError(f"{path} does not fit this encoder config: {first}") from None
    missing = [k for k in res.missing_keys if k != "vit.mask_token"]
    if missing or res.unexpected_keys:
        raise WeightsFileError(f"{path}: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}")
