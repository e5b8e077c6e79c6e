"""Data: views, code folders, corrupt videos skipped and counted, registered sources.

(The procedural clips' own tests live with the generator, in core/tests/test_video_data.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.data.collate import collate_skip_none
from sparse_core.data.errors import DatasetError
from sparse_core.data.video import MotionShapes, write_video_folder
from vidrop.codec import PatchCodebook, decode, encode
from vidrop.config import DataConfig, ViewsConfig
from vidrop.data import CodeFolderDataset, MultiClipViews, VideoFolderDataset, build_dataset
from vidrop.evaluation.clips import multiview_clips


def test_views_shapes() -> None:
    views = MultiClipViews(ViewsConfig(global_frames=4, global_size=16, local_frames=2, local_size=8, num_local=3,
                                       frame_stride=2))
    out = views(torch.from_numpy(MotionShapes(1, seed=0).video(0)))
    assert out["global"].shape == (2, 3, 4, 16, 16) and out["local"].shape == (3, 3, 2, 8, 8)
    clips = multiview_clips(torch.from_numpy(MotionShapes(1, seed=0).video(0)), 4, 2, 16, 5, 3)
    assert clips.shape == (15, 3, 4, 16, 16)


def test_views_colour_jitter_and_grayscale() -> None:
    """Jitter changes a clip's colours (same crops, same seed); grey clips have equal channels."""
    video = torch.from_numpy(MotionShapes(1, seed=0).video(0))
    kw = {"global_frames": 4, "global_size": 16, "num_local": 0, "frame_stride": 2, "global_scale": (1.0, 1.0)}
    torch.manual_seed(0)
    plain = MultiClipViews(ViewsConfig(**kw))(video)["global"]  # type: ignore[arg-type]
    torch.manual_seed(0)
    jit = MultiClipViews(ViewsConfig(**kw, color_jitter=0.8, grayscale_prob=1.0))(video)["global"]  # type: ignore[arg-type]
    assert plain.shape == jit.shape and not torch.allclose(plain, jit)
    r, g, b = (jit[0, c] * s + m for c, (m, s) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))))
    assert torch.allclose(r, g, atol=1e-5) and torch.allclose(g, b, atol=1e-5)  # grey: equal channels


def test_global_windows_put_each_large_clip_in_its_own_window() -> None:
    """With global_windows=2, large clip i only sees frames of window i (frame t is encoded in its pixels)."""
    video = torch.arange(32, dtype=torch.uint8).mul(8).view(32, 1, 1, 1).expand(32, 8, 8, 3).contiguous()
    cfg = ViewsConfig(num_global=4, global_frames=4, global_size=8, global_scale=(1.0, 1.0), num_local=0,
                      frame_stride=2, global_windows=2)
    mean, std = 0.485, 0.229
    for seed in range(20):
        torch.manual_seed(seed)
        g = MultiClipViews(cfg)(video)["global"]  # (4, 3, 4, 8, 8)
        frames = torch.round((g[:, 0, :, 0, 0] * std + mean) * 255 / 8).long()  # (4 clips, 4 frames) indices
        for i in range(4):
            lo = 16 * (i % 2)
            assert lo <= int(frames[i].min()) and int(frames[i].max()) < lo + 16, (seed, i, frames[i])
            assert torch.equal(frames[i] - frames[i, 0], torch.arange(0, 8, 2))


def test_single_shot_videos_keep_the_per_frame_speed() -> None:
    """motion_videos(single_shot=True): one segment per video, the same speed per frame as the training videos."""
    from vidrop.data.build import motion_videos

    cfg = DataConfig(num_videos=4, num_frames=32, segment_frames=16, image_size=24, speed_scale=4.0)
    train, shot = motion_videos(cfg), motion_videos(cfg, 6, seed_offset=7, single_shot=True)
    assert (len(train), train.num_frames, train.segment_frames) == (4, 32, 16)
    assert (len(shot), shot.num_frames, shot.segment_frames, shot.seed) == (6, 16, None, 7)
    assert shot.speed_scale / (shot.num_frames - 1) == pytest.approx(train.speed_scale / (train.num_frames - 1))
    plain = DataConfig(num_videos=2, num_frames=8, image_size=24)
    assert motion_videos(plain, single_shot=True).num_frames == 8  # no segments: unchanged


def test_corrupt_video_skipped_and_counted(tmp_path: Path) -> None:
    write_video_folder(tmp_path, MotionShapes(3, num_frames=6, image_size=32, seed=0))
    good = sorted(tmp_path.rglob("*.mp4"))[0]
    (good.parent / "broken.mp4").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    (good.parent / "empty.mp4").write_bytes(b"")
    ds = VideoFolderDataset(tmp_path)
    items = [ds[i] for i in range(len(ds))]
    assert len(ds) == 5 and sum(x is None for x in items) == 2 and ds.num_skipped == 2
    batch = collate_skip_none(items)
    assert batch["num_skipped"] == 2 and batch["video"].shape[0] == 3
    with pytest.raises(DatasetError):
        VideoFolderDataset(tmp_path / "missing")


def test_code_folder_decodes_like_the_codec_and_skips_bad_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cb = PatchCodebook(rng.uniform(0, 255, (40, 4 * 4 * 3)).astype(np.float32), 4)
    cb.save(tmp_path / "codebook.npz")
    video = MotionShapes(1, num_frames=4, image_size=16, seed=0).video(0)
    codes = encode(video, cb)
    (tmp_path / "a").mkdir()
    np.save(tmp_path / "a" / "x.npy", codes)
    np.save(tmp_path / "a" / "bad.npy", np.full((2, 2), 99, dtype=np.uint16))  # wrong shape
    (tmp_path / "a" / "junk.npy").write_bytes(b"not numpy")
    ds = CodeFolderDataset(tmp_path)
    got = [ds[i] for i in range(len(ds))]
    assert sum(x is None for x in got) == 2 and ds.num_skipped == 2
    ok = next(x for x in got if x is not None)
    np.testing.assert_array_equal(ok["video"].numpy(), decode(codes, cb))


def test_build_dataset_errors() -> None:
    with pytest.raises(ValueError, match="data.root"):
        build_dataset(DataConfig(source="video"))
    with pytest.raises(ValueError, match="source"):
        build_dataset(DataConfig(source="nope", root="."))


def test_snippet_features_one_row_per_snippet(tmp_path: Path) -> None:
    from vidrop_testutils import tiny_config

    from vidrop.evaluation.snippets import export_snippet_features, snippet_features
    from vidrop.model import build_encoder

    enc = build_encoder(tiny_config().encoder, drop_path_rate=0.0)
    video = torch.from_numpy(MotionShapes(1, num_frames=20, image_size=24, seed=0).video(0))
    f = snippet_features(enc, video, num_frames=4, frame_stride=2, size=16, snippet_stride=4)
    assert f.shape == (4, 2 * 48)  # starts 0, 4, 8, 12 (a clip spans 7 frames); [CLS, mean token]
    from vidrop.data.views import clip_to_tensor

    clip = clip_to_tensor(video[[4, 6, 8, 10]], 16, (0, 0, 24, 24))[None]  # snippet 1, cut by hand
    torch.testing.assert_close(f[1], enc.features(clip)[0], rtol=1e-4, atol=1e-4)
    paths = export_snippet_features(enc, {"v0": video}, tmp_path, 4, 2, 16, 4)
    assert np.load(paths[0]).shape == (4, 96)


def test_sources_go_through_the_core_registry() -> None:
    from sparse_core.data import list_datasets

    assert list_datasets("vidrop.") == ["vidrop.codes", "vidrop.moving_fashion", "vidrop.procedural", "vidrop.video"]
    registered = "registered: codes, moving_fashion, procedural, video"
    with pytest.raises(DatasetError, match=f"unknown data.source 'nope'; {registered}"):
        build_dataset(DataConfig(source="nope"))
    cfg = DataConfig(num_videos=3, num_frames=4, image_size=16, seed=2)
    ds = build_dataset(cfg, seed_offset=5)
    assert len(ds) == 3
    np.testing.assert_array_equal(ds[1]["video"].numpy(), MotionShapes(3, 4, 16, seed=7).video(1))
