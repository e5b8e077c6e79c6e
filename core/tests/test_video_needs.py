"""Videos too short for a clip or too small for a patch are skipped with that reason, and named by the probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_core.data import DatasetError
from sparse_core.data.probe import probe_dataset
from sparse_core.data.video import VideoClipDataset, VideoNeeds, VideoTooShort, VideoTooSmall, read_video
from sparse_core.testing.badinputs import encode_video

pytest.importorskip("av")


def _write(path: Path, frames: int, side: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(frames * 100 + side)
    encode_video(path, rng.integers(0, 255, (frames, side, side, 3), np.uint8))
    return path


def test_needs_of_a_clip_is_its_span() -> None:
    needs = VideoNeeds.for_clip(8, stride=2, min_side=16)
    assert (needs.min_frames, needs.min_side) == (15, 16)
    needs.check(15, 16, 20)  # exactly enough
    with pytest.raises(VideoTooShort, match=r"too short: 14 frame\(s\), a clip \(8 frames at stride 2\) spans 15"):
        needs.check(14, 64, 64)
    with pytest.raises(VideoTooSmall, match="too small: 16x15 px, smaller than one 16-px patch"):
        needs.check(30, 16, 15)


@pytest.mark.parametrize("backend", ["pyav", "auto"])
def test_read_video_checks_needs_from_the_frame_count_and_the_decoded_size(tmp_path: Path, backend: str) -> None:
    video = _write(tmp_path / "v.mp4", 6, 16)
    assert read_video(video, num_frames=4, backend=backend, needs=VideoNeeds(6, 16)).shape == (4, 16, 16, 3)
    with pytest.raises(VideoTooShort):
        read_video(video, num_frames=4, backend=backend, needs=VideoNeeds(7))
    with pytest.raises(VideoTooSmall):
        read_video(video, indices=[0, 1], backend=backend, needs=VideoNeeds(1, 17))


def test_frame_folders_are_checked_too(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(folder / f"{i:03d}.png")
    assert read_video(folder, needs=VideoNeeds(3, 8)).shape == (3, 8, 8, 3)
    with pytest.raises(VideoTooShort):
        read_video(folder, needs=VideoNeeds(4))


def test_clip_dataset_skips_and_counts_short_videos_by_default(tmp_path: Path) -> None:
    _write(tmp_path / "vids" / "long.mp4", 12, 16)
    _write(tmp_path / "vids" / "short.mp4", 5, 16)
    ds = VideoClipDataset(tmp_path / "vids", clip_len=4, stride=2)  # a clip spans 7 frames
    used = {Path(p).name: ds[i] is not None for i, (p, _) in enumerate(ds.samples)}
    assert used == {"long.mp4": True, "short.mp4": False}
    assert ds.skip_reasons == {"too short": 1} and ds.num_skipped == 1
    assert ds[0 if Path(ds.samples[0][0]).name == "long.mp4" else 1]["video"].shape == (3, 4, 16, 16)


def test_probe_names_the_reason_and_an_example_when_no_video_is_usable(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path / "vids" / f"v{i}.mp4", 3, 16)
    ds = VideoClipDataset(tmp_path / "vids", clip_len=4, stride=2)
    with pytest.raises(DatasetError, match=r"all 3 of 3 samples tried failed \(3x too short \(skipped by the reader\); "
                       r"e\.g\. v0\.mp4: VideoTooShort: too short: 3 frame\(s\)"):
        probe_dataset(ds, what=str(tmp_path / "vids"))
