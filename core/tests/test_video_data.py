"""Video reading (decord and PyAV), clip samplers, and skipping of corrupt videos."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from sparse_core.data import (
    DatasetError,
    RandomClipSampler,
    SparseRandomSampler,
    UniformSampler,
    VideoClipDataset,
    build_dataset,
    collate_skip_none,
    read_video,
)

av = pytest.importorskip("av")
BACKENDS = ["pyav", "auto"] + (["decord"] if importlib.util.find_spec("decord") else [])


def _frame(i: int, h: int, w: int) -> np.ndarray:
    """Flat frame whose red channel encodes its index (i * 12)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (i * 12) % 256
    img[..., 2] = 128
    return img


def write_video(path: Path, n: int = 20, h: int = 32, w: int = 64, faststart: bool = False) -> Path:
    """Encode ``n`` frames as an mp4 with PyAV (``faststart``: index before the frame data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            for pk in s.encode(av.VideoFrame.from_ndarray(_frame(i, h, w), format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)
    return path


def _frame_ids(frames: torch.Tensor) -> list[int]:
    """Recover frame indices from the red channel, frames ``(T, H, W, 3)`` uint8."""
    return [round(float(f[..., 0].float().mean()) / 12) for f in frames]


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_video_selects_requested_frames(tmp_path: Path, backend: str) -> None:
    path = write_video(tmp_path / "a.mp4")
    allf = read_video(path, backend=backend)  # type: ignore[arg-type]
    assert allf.shape == (20, 32, 64, 3) and allf.dtype == torch.uint8
    assert _frame_ids(allf) == list(range(20))
    uni = read_video(path, num_frames=4, backend=backend)  # type: ignore[arg-type]
    assert _frame_ids(uni) == UniformSampler(4)(20) == [2, 7, 12, 17]
    torch.manual_seed(0)
    clip = read_video(path, sampler=RandomClipSampler(4, stride=3), backend=backend)  # type: ignore[arg-type]
    ids = _frame_ids(clip)
    assert np.diff(ids).tolist() == [3, 3, 3] and 0 <= ids[0] <= 20 - 10


def test_auto_backend_falls_back_to_pyav_when_decord_fails(tmp_path: Path) -> None:
    # decord 0.6 rejects some frame widths (48 px here) that PyAV reads fine.
    path = write_video(tmp_path / "narrow.mp4", n=6, w=48)
    assert _frame_ids(read_video(path, backend="auto")) == list(range(6))


def test_samplers() -> None:
    torch.manual_seed(0)
    for _ in range(50):
        r = RandomClipSampler(8, stride=2)(40)
        assert np.diff(r).tolist() == [2] * 7 and 0 <= r[0] and r[-1] < 40
        s = SparseRandomSampler(4)(40)
        assert [x // 10 for x in s] == [0, 1, 2, 3]  # one frame per segment
    assert RandomClipSampler(4, stride=4)(5) == [0, 4, 4, 4]  # too short: last frame repeated
    assert UniformSampler(3)(3) == [0, 1, 2]


def test_video_dataset_skips_corrupt_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "vids"
    write_video(root / "jump" / "a.mp4", n=12)
    write_video(root / "run" / "b.mp4", n=16)
    good = (root / "run" / "b.mp4").read_bytes()
    (root / "run" / "c_truncated.mp4").write_bytes(good[: len(good) // 3])
    (root / "run" / "d_garbage.mp4").write_bytes(b"garbage" * 100)
    (root / "run" / "e_empty.mp4").write_bytes(b"")
    # Index intact but frame data cut: the header promises frames that are gone.
    fs = write_video(tmp_path / "fs.mp4", n=40, faststart=True).read_bytes()
    (root / "run" / "f_cut_frames.mp4").write_bytes(fs[: len(fs) // 2])
    ds = VideoClipDataset(root, clip_len=4, stride=2, sampler="uniform")
    assert ds.classes == ["jump", "run"] and len(ds) == 6
    with caplog.at_level(logging.WARNING, logger="sparse_core.data"):
        items = [ds[i] for i in range(len(ds))]
    assert [it is None for it in items] == [False, False, True, True, True, True]
    assert ds.num_skipped == 4
    assert sum("skipping unreadable sample" in r.message for r in caplog.records) == 4
    batch = collate_skip_none(items)
    assert batch["num_skipped"] == 4
    assert batch["video"].shape == (2, 3, 4, 32, 64) and batch["video"].dtype == torch.float32
    assert batch["label"].tolist() == [0, 1]
    assert batch["path"][1].endswith("b.mp4")


def test_video_dataset_transform_list_and_errors(tmp_path: Path) -> None:
    a = write_video(tmp_path / "x" / "a.mp4", n=10)
    b = write_video(tmp_path / "x" / "b.mp4", n=10)
    t = v2.Compose([v2.RandomResizedCrop(16, scale=(0.5, 1.0)), v2.ToDtype(torch.float32, scale=True)])
    ds = VideoClipDataset([(a, 3), b], clip_len=5, sampler="uniform", transform=t)
    x = ds[0]
    assert x["video"].shape == (3, 5, 16, 16) and x["label"] == 3
    # Frame order survives the transform: the red channel still increases over time.
    red = x["video"][0].mean(dim=(1, 2))
    assert torch.all(red[1:] > red[:-1])
    unl = VideoClipDataset(tmp_path / "x", clip_len=2, sampler="sparse")
    assert "label" not in unl[0]
    listfile = tmp_path / "list.txt"
    listfile.write_text("x/a.mp4 1\nx/b.mp4 0\n")
    assert build_dataset("video", root=listfile, clip_len=2)[1]["label"] == 0  # type: ignore[index]
    with pytest.raises(DatasetError, match="missing does not exist"):
        VideoClipDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no video files"):
        VideoClipDataset(tmp_path / "empty")
