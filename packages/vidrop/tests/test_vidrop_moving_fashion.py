"""ViDROP on Moving Fashion-MNIST: the registered source and its labels, views cut inside their windows, the
partner-vs-shuffled cross-entropy diagnostic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.data import list_datasets
from sparse_core.data.video import MovingFashion
from vidrop.config import DataConfig, ViewsConfig
from vidrop.data import MultiClipViews, build_dataset
from vidrop.data.views import clip_to_tensor


def _cfg(root: Path, **kw: object) -> DataConfig:
    base = {"source": "moving_fashion", "num_videos": 20, "num_frames": 8, "image_size": 32, "seed": 3,
            "max_objects": 2, "num_directions": 4, "garments_root": str(root)}
    return DataConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_moving_fashion_is_registered_with_content_and_motion_labels(tmp_path: Path) -> None:
    from sparse_core.testing import write_fashion_mnist

    root = write_fashion_mnist(tmp_path / "fm")
    assert "vidrop.moving_fashion" in list_datasets("vidrop.")
    ds = build_dataset(_cfg(root), seed_offset=2)
    ref = MovingFashion(20, 8, 32, seed=5, max_objects=2, num_directions=4, root=root)
    assert len(ds) == 20 and ds.num_classes == 10
    for i in (0, 7, 13):
        item = ds[i]
        np.testing.assert_array_equal(item["video"].numpy(), ref.video(i))
        assert (item["label"], item["content"], item["motion"]) == (ref.content(i), ref.content(i), ref.motion(i))
    assert {ds[i]["content"] for i in range(20)} == set(range(10))
    assert {ds[i]["motion"] for i in range(20)} == {0, 1}  # (i // 10) % 4 over 20 videos
    motion = build_dataset(_cfg(root, label_kind="motion"))
    assert motion.num_classes == 4 and [motion[i]["label"] for i in (3, 12)] == [0, 1]
    assert build_dataset(_cfg(root), label_kind="motion")[12]["label"] == 1  # builder override
    assert len(build_dataset(_cfg(root), num_videos=6)) == 6


def test_moving_fashion_test_split_uses_the_unseen_garments(tmp_path: Path) -> None:
    from sparse_core.testing import write_fashion_mnist

    root = write_fashion_mnist(tmp_path / "fm")
    train, test = build_dataset(_cfg(root)), build_dataset(_cfg(root), split="test")
    ref = MovingFashion(20, 8, 32, seed=3, split="test", max_objects=2, num_directions=4, root=root)
    np.testing.assert_array_equal(test[4]["video"].numpy(), ref.video(4))
    assert test.videos.split == "test" and train.videos.split == "train"
    g_train = {int(g) for i in range(20) for g in train.videos.params(i)["garments"]}
    g_test = {int(g) for i in range(20) for g in test.videos.params(i)["garments"]}
    # garment indices point into different Fashion-MNIST files: the test images are not the training images
    assert not np.array_equal(train.videos.images[sorted(g_test)], test.videos.images[sorted(g_test)])
    assert g_train and g_test
    with pytest.raises(ValueError, match="split"):
        build_dataset(_cfg(root), split="val")


def _frame_coded_video(t: int = 32, side: int = 8) -> torch.Tensor:
    """``(t, side, side, 3)`` uint8 whose frame ``i`` has the value ``8 i`` everywhere (frames readable back)."""
    return torch.arange(t, dtype=torch.uint8).mul(8).view(t, 1, 1, 1).expand(t, side, side, 3).contiguous()


def _frames_of(clips: torch.Tensor) -> torch.Tensor:
    """Frame indices ``(N, T)`` of normalised clips ``(N, 3, T, S, S)`` cut from :func:`_frame_coded_video`."""
    return torch.round((clips[:, 0, :, 0, 0] * 0.229 + 0.485) * 255 / 8).long()


def test_local_clips_lie_inside_their_own_window() -> None:
    """Small clip j is cut inside window j mod global_windows (it never straddles the border at frame 16)."""
    video = _frame_coded_video()
    cfg = ViewsConfig(num_global=2, global_frames=4, global_size=8, global_scale=(1.0, 1.0), num_local=5,
                      local_frames=4, local_size=4, local_scale=(1.0, 1.0), frame_stride=2, global_windows=2)
    for seed in range(30):
        torch.manual_seed(seed)
        out = MultiClipViews(cfg)(video)
        g, loc = _frames_of(out["global"]), _frames_of(out["local"])
        for name, frames in (("global", g), ("local", loc)):
            for j, f in enumerate(frames):
                lo = 16 * (j % 2)
                assert lo <= int(f.min()) and int(f.max()) < lo + 16, (seed, name, j, f)
                assert torch.equal(f - f[0], torch.arange(0, 8, 2))


def test_local_windows_false_keeps_the_old_anywhere_clips() -> None:
    """views.local_windows=False: small clips start anywhere, so some of them cross the window border."""
    video = _frame_coded_video()
    cfg = ViewsConfig(num_global=2, global_frames=4, global_size=8, num_local=8, local_frames=4, local_size=4,
                      frame_stride=2, global_windows=2, local_windows=False)
    torch.manual_seed(0)
    loc = _frames_of(torch.cat([MultiClipViews(cfg)(video)["local"] for _ in range(10)]))
    crossing = ((loc.min(1).values < 16) & (loc.max(1).values >= 16)).sum()
    in_second = (loc.min(1).values >= 16)[0::2].sum()  # even clips would all be in window 0 with windows on
    assert int(crossing) > 0 and int(in_second) > 0


def test_two_large_clips_are_two_windows_of_one_moving_fashion_video(tmp_path: Path) -> None:
    """With full-frame crops, large clip i is exactly frames s_i, s_i + 2, ... of the video with s_i in window i."""
    from sparse_core.testing import write_fashion_mnist

    root = write_fashion_mnist(tmp_path / "fm")
    views = ViewsConfig(num_global=2, global_frames=4, global_size=32, global_scale=(1.0, 1.0), num_local=0,
                        frame_stride=2, global_windows=2)
    ds = build_dataset(_cfg(root, num_frames=32), MultiClipViews(views))
    raw = build_dataset(_cfg(root, num_frames=32))
    torch.manual_seed(1)
    for i in (0, 5):
        clips, video = ds[i]["global"], raw[i]["video"]
        assert ds[i]["content"] == raw[i]["content"] and ds[i]["motion"] == raw[i]["motion"]
        for w in (0, 1):
            starts = [s for s in range(16 * w, 16 * w + 10)
                      if torch.allclose(clips[w], clip_to_tensor(video[s + 2 * torch.arange(4)], 32), atol=1e-5)]
            assert starts, (i, w)
        assert not torch.allclose(clips[0], clips[1])


def test_partner_cross_entropy_sees_a_shared_view() -> None:
    """Identical clips in both branches: the true partner's cross-entropy is below the shuffled one's; the
    diagnostic restores the task's training mode and refuses a single large clip."""
    from vidrop_testutils import make_batch, tiny_config

    from vidrop.evaluation.diagnostics import partner_cross_entropy
    from vidrop.task import ViDROPTask

    torch.manual_seed(0)
    cfg = tiny_config()
    task = ViDROPTask(cfg, total_steps=10)
    glob = make_batch(cfg, 8)["global"]
    same = glob[:, :1].expand(-1, 2, -1, -1, -1, -1)  # both large clips = clip 0
    task.train()
    res = partner_cross_entropy(task, same, teacher_temp=0.04)
    assert task.training and res["gap"] == pytest.approx(res["shuffled_ce"] - res["partner_ce"]) and res["gap_se"] > 0
    assert res["partner_ce"] < res["shuffled_ce"] and res["ln_k"] == pytest.approx(np.log(64))
    with pytest.raises(ValueError, match="2 large clips"):
        partner_cross_entropy(task, glob[:, :1])
