"""river-encode on real video files: frame folders and videos are
encoded, a corrupt file is skipped and counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from river_vp.cli import encode
from river_vp.data.video_files import VideoFramesDataset, list_river_videos


@pytest.fixture
def video_folder(tmp_path: Path) -> Path:
    import imageio.v2 as imageio
    from PIL import Image

    root = tmp_path / "videos"
    root.mkdir()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(5)]
    imageio.mimsave(root / "good.mp4", frames, fps=5, macro_block_size=8)
    (root / "broken.mp4").write_bytes(
        b"\x00\x00\x00\x18ftypmp42" + bytes(rng.integers(0, 255, 500, dtype=np.uint8))
    )
    clip = root / "clip_frames"
    clip.mkdir()
    for i, f in enumerate(frames[:4]):
        Image.fromarray(f).save(clip / f"{i:03d}.png")
    return root


def test_corrupt_video_is_skipped_and_counted(
    video_folder: Path, tmp_path: Path, tiny_ae_dir: Path, capsys
) -> None:
    assert len(list_river_videos(video_folder)) == 3
    out = tmp_path / "lat"
    encode.main(
        [
            "--autoencoder",
            str(tiny_ae_dir),
            "--out",
            str(out),
            "--data.source",
            str(video_folder),
            "--data.image_size",
            "16",
            "--data.num_frames",
            "0",
            "--device",
            "cpu",
        ]
    )
    index = json.loads((out / "index.json").read_text())
    assert index["num_skipped"] == 1 and index["skipped"][0].endswith("broken.mp4")
    lengths = sorted(v["length"] for v in index["videos"])
    assert lengths == [4, 5]
    assert "skipped (unreadable): 1" in capsys.readouterr().out


def test_frame_dataset_skips_corrupt(video_folder: Path) -> None:
    ds = VideoFramesDataset(video_folder, image_size=16, frames_per_video=2)
    items = [ds[i] for i in range(len(ds))]
    assert sum(x is None for x in items) == 2 and ds.num_skipped == 2
    assert all(x["image"].shape == (3, 16, 16) for x in items if x is not None)


def test_sources_go_through_the_core_registry(video_folder: Path) -> None:
    import torch

    from river_vp.config import VideoDataConfig
    from river_vp.data.sources import VideoSource, frame_dataset
    from sparse_core.data import DatasetError, list_datasets
    from sparse_core.data.video import BouncingShapes

    assert list_datasets("river.") == ["river.folder", "river.moving_fashion", "river.moving_shapes"]
    with pytest.raises(DatasetError, match=r"'nope' is neither a registered source \(folder, moving_fashion, "
                                           r"moving_shapes\)"):
        frame_dataset(VideoDataConfig(source="nope"))
    cfg = VideoDataConfig(num_videos=2, num_frames=5, image_size=16, seed=3)
    src = VideoSource(cfg)
    expected = torch.from_numpy(BouncingShapes(2, 5, 16, seed=3).video(1)).permute(0, 3, 1, 2).float() / 127.5 - 1
    torch.testing.assert_close(src.video(1), expected)
    assert src.name(1) == "moving_shapes/seed3/000001"
    frames = frame_dataset(cfg)
    assert len(frames) == 10
    torch.testing.assert_close(frames[5 + 2]["image"], expected[2])
    by_root = VideoSource(VideoDataConfig(source="folder", root=str(video_folder), image_size=16, num_frames=0))
    assert len(by_root) == 3 and by_root.video(0) is None and by_root.num_skipped == 1  # broken.mp4 sorts first
