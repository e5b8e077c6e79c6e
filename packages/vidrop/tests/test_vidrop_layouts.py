"""vidrop's video source reads class folders, a flat folder or one file; evaluation refuses unlabelled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_core.data.video import write_video
from vidrop.config import DataConfig
from vidrop.data.build import build_dataset

pytest.importorskip("av")


def _clip(path: Path, value: int) -> Path:
    frames = np.full((6, 16, 16, 3), value, np.uint8)
    return write_video(path, frames)


@pytest.mark.parametrize("layout", ["classes", "flat", "file"])
def test_video_source_reads_every_layout(tmp_path: Path, layout: str) -> None:
    if layout == "classes":
        paths = [_clip(tmp_path / "a" / "0.mp4", 40), _clip(tmp_path / "b" / "1.mp4", 200)]
        root = tmp_path
    elif layout == "flat":
        paths = [_clip(tmp_path / "0.mp4", 40), _clip(tmp_path / "1.mp4", 200)]
        root = tmp_path
    else:
        paths = [_clip(tmp_path / "0.mp4", 40)]
        root = paths[0]
    ds = build_dataset(DataConfig(source="video", root=str(root)))
    assert len(ds) == len(paths)
    items = [ds[i] for i in range(len(ds))]
    assert [int(it["video"].float().mean().round()) for it in items] == [40, 200][:len(paths)]
    labels = [it["label"] for it in items]
    assert labels == ([0, 1] if layout == "classes" else [-1] * len(paths))
    assert ds.num_classes == (2 if layout == "classes" else 0)
