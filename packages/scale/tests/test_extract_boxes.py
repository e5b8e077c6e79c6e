"""Normalised boxes (eq. 4.5), the uniform test grid and the clip sets cut from a video."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scale_video.boxes import Crop, normalise_box, uniform_grid_crops
from scale_video.clips import SetSampler, VideoTooShort, cut_clip
from scale_video.config import ClipSamplingConfig


def test_normalise_box_is_eq_4_5() -> None:
    x, y, q, h, w, t, H, W, T = 12, 30, 7, 40, 50, 16, 120, 160, 64  # X along H (rows), Y along W (columns)
    expected = [x / H, y / W, q / T, (x + h) / H, (y + w) / W, (q + t) / T]
    np.testing.assert_allclose(normalise_box(x, y, q, h, w, t, H, W, T), expected, rtol=1e-6)
    crop = Crop(frames=tuple(range(7, 23)), top=12, left=30, height=40, width=50)
    assert crop.duration == 16
    np.testing.assert_allclose(crop.box(H, W, T), expected, rtol=1e-6)
    # the whole video is the unit box
    np.testing.assert_allclose(Crop(tuple(range(64)), 0, 0, 120, 160).box(120, 160, 64), [0, 0, 0, 1, 1, 1])


def test_uniform_5x3_grid_boxes() -> None:
    T, H, W, n, stride = 100, 120, 160, 8, 2
    crops = uniform_grid_crops(T, H, W, n, stride, num_temporal=5, num_spatial=3)
    assert len(crops) == 15
    span = (n - 1) * stride + 1
    last = T - span
    boxes = np.stack([c.box(H, W, T) for c in crops]).reshape(5, 3, 6)
    for i in range(5):
        start = round(last * (i + 0.5) / 5)
        for j, left in enumerate([0, (W - H) // 2, W - H]):  # squares of the short side along the long side
            expected = [0, left / W, start / T, 1, (left + H) / W, (start + span) / T]
            np.testing.assert_allclose(boxes[i, j], expected, rtol=1e-6)
    assert crops[0].frames == tuple(round(last * 0.1) + stride * k for k in range(n))
    # 2 x 3 (SSv2) on a portrait video: crops move along the height
    portrait = uniform_grid_crops(40, 90, 60, 4, 1, num_temporal=2, num_spatial=3)
    assert [(c.top, c.left, c.height, c.width) for c in portrait[:3]] == [(0, 0, 60, 60), (15, 0, 60, 60),
                                                                          (30, 0, 60, 60)]


def _video(frames: int = 40, h: int = 48, w: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (frames, h, w, 3), generator=g, dtype=torch.uint8)


def test_cut_clip_takes_the_box_and_flips() -> None:
    video = _video()
    crop = Crop((3, 5, 7), top=4, left=10, height=16, width=16)
    clip = cut_clip(video, crop, size=16)
    assert clip.shape == (3, 3, 16, 16)
    torch.testing.assert_close(clip, video[[3, 5, 7], 4:20, 10:26].permute(0, 3, 1, 2).float() / 255)
    flipped = cut_clip(video, Crop((3, 5, 7), 4, 10, 16, 16, flip=True), size=16)
    torch.testing.assert_close(flipped, clip.flip(-1))


def test_training_sets_are_seeded_per_video_and_pass() -> None:
    video = _video()
    cfg = ClipSamplingConfig(num_clips=6, num_frames=4, frame_strides=[1, 2], size=24)
    sampler = SetSampler(cfg, size=24, train=True, seed=3)
    read_calls: list[list[int]] = []

    def read(s):
        idx = s(len(video))
        read_calls.append(idx)
        return video[idx]

    a, b = sampler(read, video=5, pass_index=0), sampler(read, video=5, pass_index=0)
    c = sampler(read, video=5, pass_index=1)
    assert a.clips.shape == (6, 3, 4, 24, 24) and a.clips.dtype == torch.uint8 and a.boxes.shape == (6, 6)
    assert torch.equal(a.clips, b.clips) and np.array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.boxes, c.boxes)  # another pass draws other crops
    assert read_calls[0] == sorted({i for crop in a.crops for i in crop.frames})  # only needed frames decoded
    for crop, box in zip(a.crops, a.boxes):
        np.testing.assert_allclose(box, crop.box(48, 64, 40), rtol=1e-6)
        stride = crop.frames[1] - crop.frames[0]
        assert stride in (1, 2) and crop.frames == tuple(crop.frames[0] + stride * k for k in range(4))
        assert 0 <= box.min() and box.max() <= 1 and (box[3:] > box[:3]).all()
    # the global RNG is left untouched
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    sampler(read, video=1)
    assert torch.equal(torch.rand(3), expected)


def test_eval_sets_follow_the_grid_and_short_videos_are_refused() -> None:
    video = _video(frames=30)
    cfg = ClipSamplingConfig(num_frames=4, eval_temporal=5, eval_spatial=3, eval_stride=2)
    sampler = SetSampler(cfg, size=16, train=False)
    s = sampler(lambda smp: video[smp(30)], video=0)
    grid = uniform_grid_crops(30, 48, 64, 4, 2, 5, 3)
    assert s.crops == grid and s.clips.shape == (15, 3, 4, 16, 16)
    np.testing.assert_array_equal(s.boxes, np.stack([c.box(48, 64, 30) for c in grid]))
    with pytest.raises(VideoTooShort):
        sampler(lambda smp: video[smp(3)], video=0)
