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


# --- listing ---------------------------------------------------------------------------------------


def test_list_videos_layouts_and_errors(tmp_path: Path) -> None:
    from sparse_core.data.video import list_videos

    for rel in ("b_run/x.mp4", "a_jump/y.avi", "a_jump/sub/z.mkv", "a_jump/notes.txt"):
        (tmp_path / "cls" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cls" / rel).write_bytes(b"")
    listing = list_videos(tmp_path / "cls")  # auto: sub-folders are classes, searched recursively
    assert listing.classes == ["a_jump", "b_run"]
    assert [(p.name, label) for p, label in listing.items] == [("z.mkv", 0), ("y.avi", 0), ("x.mp4", 1)]
    flat = list_videos(tmp_path / "cls", layout="flat")
    assert flat.classes == [] and {p.name for p in flat.paths} == {"x.mp4", "y.avi", "z.mkv"}
    assert all(label == -1 for _, label in flat.items)
    assert list_videos(tmp_path / "cls" / "b_run" / "x.mp4").items == [(tmp_path / "cls" / "b_run" / "x.mp4", -1)]
    frames = tmp_path / "flat" / "clip"
    frames.mkdir(parents=True)
    (frames / "000.png").write_bytes(b"")
    (tmp_path / "flat" / "v.webm").write_bytes(b"")
    both = list_videos(tmp_path / "flat", frame_folders=True)
    assert sorted(p.name for p in both.paths) == ["clip", "v.webm"]
    assert len(list_videos(tmp_path / "cls", layout="classes", extensions=(".txt",))) == 1
    with pytest.raises(DatasetError, match="does not exist"):
        list_videos(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no video files"):
        list_videos(tmp_path / "empty")


def test_read_video_frame_folder(tmp_path: Path) -> None:
    from PIL import Image

    for i in range(5):
        Image.fromarray(_frame(i, 8, 12)).save(tmp_path / f"{i:03d}.png")
    assert _frame_ids(read_video(tmp_path)) == [0, 1, 2, 3, 4]
    assert _frame_ids(read_video(tmp_path, num_frames=2)) == UniformSampler(2)(5) == [1, 3]


# --- layout and writing ----------------------------------------------------------------------------


def test_layout_converters_match_the_formulas_and_round_trip() -> None:
    from sparse_core.data.video import float_to_frames, frames_to_float

    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (3, 5, 7, 3), dtype=torch.uint8, generator=g)
    unit = frames_to_float(frames)
    assert unit.shape == (3, 3, 5, 7)
    torch.testing.assert_close(unit, frames.permute(0, 3, 1, 2).float() / 255)
    signed = frames_to_float(frames, "signed", "cthw")
    assert signed.shape == (3, 3, 5, 7)
    torch.testing.assert_close(signed, frames.permute(3, 0, 1, 2).float() / 127.5 - 1)
    for value_range in ("unit", "signed"):
        for layout in ("tchw", "cthw"):
            x = frames_to_float(frames, value_range, layout)  # type: ignore[arg-type]
            assert torch.equal(float_to_frames(x, value_range, layout), frames)  # type: ignore[arg-type]
    assert torch.equal(float_to_frames(torch.full((1, 3, 1, 1), 7.0), "signed"), torch.full((1, 1, 1, 3), 255))


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_write_video_round_trips(tmp_path: Path, suffix: str) -> None:
    from sparse_core.data.video import MotionShapes, write_video

    clip = MotionShapes(1, num_frames=6, image_size=32, seed=0).video(0)
    path = write_video(tmp_path / "sub" / f"clip{suffix}", clip, fps=4)
    if suffix == ".mp4":
        back = read_video(path).numpy()
        assert back.shape == clip.shape
        assert np.abs(back.astype(float) - clip).mean() < 3.0  # near-lossless H.264 (crf 10, 4:4:4)
    else:
        import imageio.v2 as imageio

        back = np.stack(imageio.mimread(path))[..., :3]
        assert back.shape == clip.shape
    odd = write_video(tmp_path / "odd.mp4", clip[:, :31, :29], pix_fmt="yuv420p")
    assert read_video(odd).shape == (6, 32, 30, 3)  # padded to even sides
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "bad.mp4", clip.astype(np.float32))
    with pytest.raises(ValueError, match="suffix"):
        write_video(tmp_path / "bad.avi", clip)


# --- procedural videos -----------------------------------------------------------------------------


def test_procedural_is_deterministic_per_seed_and_balanced() -> None:
    from sparse_core.data.video import MotionShapes

    a, b, c = MotionShapes(16, seed=3), MotionShapes(16, seed=3), MotionShapes(16, seed=4)
    assert np.array_equal(a.video(5), b.video(5))
    assert not np.array_equal(a.video(5), c.video(5))
    assert a.video(0).shape == (16, 64, 64, 3) and a.video(0).dtype == np.uint8
    assert sorted(a.label(i) for i in range(16)) == sorted(list(range(8)) * 2)
    item = a[3]
    assert torch.equal(item["video"], torch.from_numpy(a.video(3))) and item["label"] == 3


def test_procedural_motion_is_visible() -> None:
    """'right' moves the object's centre of mass right, 'up' moves it up (positions wrap around the frame)."""
    from sparse_core.data.video import MotionShapes

    pv = MotionShapes(4, num_frames=8, image_size=48, seed=0)

    def com(frames: np.ndarray) -> np.ndarray:
        diff = np.abs(frames.astype(float) - np.median(frames, axis=0)).sum(-1)  # (T, H, W) object vs background
        phase = 2 * np.pi * (np.mgrid[:48, :48] + 0.5) / 48  # periodic coordinates (rows, cols)
        w = diff / diff.sum((1, 2), keepdims=True)
        ang = np.stack([np.angle((w * np.exp(1j * phase[k])).sum((1, 2))) for k in (1, 0)], 1)
        return np.unwrap(ang, axis=0) * 48 / (2 * np.pi)  # (T, 2): x, y in pixels, unwrapped over time

    right, up = com(pv.video(0)), com(pv.video(2))  # labels 0 (right), 2 (up)
    assert right[-1, 0] - right[0, 0] > 5
    assert up[0, 1] - up[-1, 1] > 5


def _nearest_centroid_accuracy(x: np.ndarray, y: np.ndarray, num_classes: int) -> float:
    """Fit class means on the first half (standardised features), accuracy on the second half."""
    h = len(x) // 2
    mu, sd = x[:h].mean(0), x[:h].std(0) + 1e-9
    z = (x - mu) / sd
    centroids = np.stack([z[:h][y[:h] == k].mean(0) for k in range(num_classes)])
    pred = ((z[h:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    return float((pred == y[h:]).mean())


def _motion_features(frames: np.ndarray) -> np.ndarray:
    """Translation, zoom and rotation of the moving object, read from the pixels of one clip.

    The object is found from the frame difference around the middle frame (its circular centroid), its
    colour read there, and its mask in every frame is the set of pixels of that colour. Features:
    centroid displacement (x, y), log area ratio last / first frame, and the least-squares rotation step
    ``dm = -delta * dm/dtheta`` of the blurred masks.
    """
    from scipy.ndimage import gaussian_filter

    f = frames.astype(np.float64)
    t, s = f.shape[:2]
    yy, xx = np.mgrid[:s, :s]
    mid = t // 2
    d = np.abs(f[mid] - f[mid - 1]).sum(-1) + np.abs(f[mid + 1] - f[mid]).sum(-1)
    d = np.where(d > 60, d, 0.0)
    centre = [np.angle((d * np.exp(2j * np.pi * c / s)).sum()) % (2 * np.pi) * s / (2 * np.pi) for c in (yy, xx)]
    f = np.roll(f, [s // 2 - round(c) for c in centre], axis=(1, 2))  # object in the middle (frames are a torus)
    colour = f[mid, s // 2 - 1 : s // 2 + 2, s // 2 - 1 : s // 2 + 2].reshape(-1, 3).mean(0)
    masks = np.linalg.norm(f - colour, axis=-1) < 40  # (T, S, S)
    area = masks.sum((1, 2)) + 1.0
    com = np.stack([(masks * xx).sum((1, 2)), (masks * yy).sum((1, 2))], 1) / area[:, None]
    m = gaussian_filter(masks.astype(float), (0, 1.0, 1.0))
    gy, gx = np.gradient(m, axis=(1, 2))
    dtheta = (xx - s / 2) * gy - (yy - s / 2) * gx
    th = 0.5 * (dtheta[1:] + dtheta[:-1])
    rot = -((m[1:] - m[:-1]) * th).sum() / ((th * th).sum() + 1e-9)
    return np.array([*(com[-1] - com[0]), 10 * np.log(area[-1] / area[0]), 100 * rot])


def test_motion_classes_are_in_the_motion_only() -> None:
    """Mean colour or one frame is at chance on the motion classes; a motion feature separates them."""
    pytest.importorskip("scipy")
    from sparse_core.data.video import MotionShapes

    ds = MotionShapes(400, num_frames=16, image_size=32, seed=0)
    videos = [ds.video(i) for i in range(len(ds))]
    y = np.array([ds.label(i) for i in range(len(ds))])
    chance = 1 / 8
    cues = {
        "mean_colour": np.stack([v.reshape(-1, 3).mean(0) for v in videos]),
        "first_frame": np.stack([v[0, ::4, ::4].reshape(-1) for v in videos]).astype(float),
        "middle_frame": np.stack([v[8, ::4, ::4].reshape(-1) for v in videos]).astype(float),
    }
    for name, x in cues.items():
        acc = _nearest_centroid_accuracy(x, y, 8)
        assert abs(acc - chance) < 0.07, (name, acc)  # 200 test videos: one std of chance is 0.023
    assert _nearest_centroid_accuracy(np.stack([_motion_features(v) for v in videos]), y, 8) > 0.9


def test_segments_redraw_the_appearance() -> None:
    """With segments, two clips of a video match by colour only by chance; without, they match."""
    from sparse_core.data.video import MotionShapes

    n = 64

    def same_video_match(segment_frames: int | None) -> float:
        ds = MotionShapes(n, num_frames=16, image_size=24, seed=1, segment_frames=segment_frames)
        a = np.stack([ds.video(i)[:8].reshape(-1, 3).mean(0) for i in range(n)])
        b = np.stack([ds.video(i)[8:].reshape(-1, 3).mean(0) for i in range(n)])
        nearest = ((a[:, None] - b[None]) ** 2).sum(-1).argmin(1)
        return float((nearest == np.arange(n)).mean())

    assert same_video_match(None) > 0.8
    assert same_video_match(8) < 0.15  # chance is 1 / 64
    v = MotionShapes(1, num_frames=16, image_size=24, seed=0, segment_frames=8).video(0)
    assert np.array_equal(v, MotionShapes(1, num_frames=16, image_size=24, seed=0, segment_frames=8).video(0))


def test_speed_scale_and_radius_range_change_only_the_motion_rate_and_size() -> None:
    """speed_scale k moves a 'right' shape k times as far; radius_range sets its area; defaults unchanged."""
    from sparse_core.data.video import MotionShapes

    def mean_shift(speed: float) -> float:
        ds = MotionShapes(8, num_frames=8, image_size=48, seed=3, num_classes=1, speed_scale=speed)
        shifts = []
        for i in range(len(ds)):
            v = ds.video(i)
            diff = np.abs(v.astype(float) - np.median(v, axis=0)).sum(-1)  # (T, H, W) object vs background
            phase = 2 * np.pi * (np.arange(48) + 0.5) / 48
            x = np.unwrap(np.angle((diff.sum(1) * np.exp(1j * phase)).sum(1))) * 48 / (2 * np.pi)  # column centroid
            shifts.append(x[-1] - x[0])
        return float(np.median(shifts))

    slow, fast = mean_shift(1.0), mean_shift(2.0)
    assert slow > 10 and abs(fast / slow - 2.0) < 0.3  # 0.5-0.75 x 48 px over the clip, then twice that
    big = MotionShapes(16, num_frames=1, image_size=48, seed=0, radius_range=(0.3, 0.3)).video(0)
    small = MotionShapes(16, num_frames=1, image_size=48, seed=0, radius_range=(0.1, 0.1)).video(0)
    assert big.shape == small.shape == (1, 48, 48, 3) and not np.array_equal(big, small)
    default = MotionShapes(2, num_frames=6, image_size=24, seed=5)
    explicit = MotionShapes(2, num_frames=6, image_size=24, seed=5, radius_range=(0.12, 0.2), speed_scale=1.0)
    assert np.array_equal(default.video(1), explicit.video(1))
    with pytest.raises(ValueError, match="radius_range"):
        MotionShapes(2, radius_range=(0.3, 0.1))
    with pytest.raises(ValueError, match="speed_scale"):
        MotionShapes(2, speed_scale=0.0)


def test_bouncing_shapes_deterministic_closed_form_and_inside() -> None:
    from sparse_core.data.video import BouncingShapes

    a, b = (BouncingShapes(4, num_frames=40, image_size=24, seed=2) for _ in range(2))
    v = a.video(1)
    assert v.shape == (40, 24, 24, 3) and v.dtype == np.uint8 and np.array_equal(v, b.video(1))
    assert not np.array_equal(v, BouncingShapes(4, num_frames=40, image_size=24, seed=3).video(1))
    assert np.array_equal(a.frame(1, 17), v[17])
    assert np.array_equal(a[1]["video"].numpy(), v)
    assert (v.reshape(40, -1).max(1) > 0).all()  # shapes never leave the frame
    assert np.abs(np.diff(v.astype(int), axis=0)).sum((1, 2, 3)).min() > 0  # and always move


def test_registry_procedural_splits_and_prefixed_lookup() -> None:
    from sparse_core.data import get_dataset_builder, register_dataset

    tr = build_dataset("motion_shapes", split="train", num_videos=2, num_frames=4, image_size=16)
    te = build_dataset("motion_shapes", split="test", num_videos=2, num_frames=4, image_size=16)
    assert not torch.equal(tr[0]["video"], te[0]["video"])  # type: ignore[index]
    assert len(build_dataset("moving_shapes", num_videos=3, num_frames=2)) == 3  # type: ignore[arg-type]

    from sparse_core.data import registry

    @register_dataset("zz_test.alpha")
    def _alpha(root: object, split: str, transform: object) -> list[int]:
        return [1]

    try:
        assert get_dataset_builder("alpha", prefix="zz_test.") is _alpha
        with pytest.raises(DatasetError, match=r"unknown data.source 'beta'; registered: alpha$"):
            get_dataset_builder("beta", prefix="zz_test.", what="data.source")
    finally:
        registry._REGISTRY.pop("zz_test.alpha")  # keep the global registry as the other tests expect it


def test_shot_shapes_label_is_the_number_of_distinct_kinds_and_no_shot_carries_it() -> None:
    """Balanced labels; label + 1 distinct kinds; each shot's kind uniform whatever the label; deterministic."""
    from sparse_core.data.video import MOTION_SHAPES, ShotShapes

    ds = ShotShapes(1200, num_shots=3, shot_frames=4, image_size=24, seed=2)
    labels = np.array([ds.label(i) for i in range(len(ds))])
    assert np.bincount(labels).tolist() == [400, 400, 400] and ds.classes == ("1", "2", "3")
    kinds = np.array([ds.kinds(i) for i in range(len(ds))])
    assert all(len(set(k)) == y + 1 for k, y in zip(kinds.tolist(), labels.tolist(), strict=True))
    for y in range(3):  # P(kind of shot s | label) = 1/4: one shot says nothing of the class
        for s in range(3):
            freq = np.bincount(kinds[labels == y, s], minlength=len(MOTION_SHAPES)) / 400
            assert np.abs(freq - 0.25).max() < 0.08, (y, s, freq)  # 400 draws: one std is 0.022
    v = ds.video(5)
    assert v.shape == (12, 24, 24, 3) and v.dtype == np.uint8
    assert np.array_equal(v, ShotShapes(1200, num_shots=3, shot_frames=4, image_size=24, seed=2).video(5))
    assert not np.array_equal(v, ShotShapes(1200, num_shots=3, shot_frames=4, image_size=24, seed=3).video(5))
    assert ds[5]["label"] == ds.label(5) and torch.equal(ds[5]["video"], torch.from_numpy(v))


def test_shot_shapes_shots_are_motion_clips_of_the_chosen_kinds() -> None:
    """Each shot is render_motion_clip of its kind from the video's stream; kind=None keeps the drawn kind."""
    from sparse_core.data.video import MOTION_SHAPES, MOTIONS, ShotShapes, render_motion_clip

    ds = ShotShapes(4, num_shots=2, shot_frames=3, image_size=32, seed=0, radius_range=(0.25, 0.25))
    rng = np.random.default_rng([0, 3])
    expected = []
    for k in ds.kinds(3):
        motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
        expected.append(render_motion_clip(motion, rng, 3, 32, radius_range=(0.25, 0.25), kind=MOTION_SHAPES[k]))
    assert np.array_equal(ds.video(3), np.concatenate(expected))
    drawn = render_motion_clip("grow", np.random.default_rng(7), 4, 32)
    same = [np.array_equal(drawn, render_motion_clip("grow", np.random.default_rng(7), 4, 32, kind=k))
            for k in MOTION_SHAPES]
    assert sum(same) == 1  # the stream is unchanged: exactly the drawn kind reproduces the old clip
    with pytest.raises(ValueError, match="unknown task"):
        ShotShapes(4, task="order")
    with pytest.raises(ValueError, match="num_shots"):
        ShotShapes(4, num_shots=5)
    with pytest.raises(ValueError, match="shape kind"):
        render_motion_clip("grow", np.random.default_rng(0), 2, 16, kind="circle")


def test_video_data_config_checks_num_shots() -> None:
    from sparse_core.config import ConfigError
    from sparse_core.data.video import VideoDataConfig

    with pytest.raises(ConfigError, match="data.num_shots"):
        VideoDataConfig(num_shots=1)
    with pytest.raises(ConfigError, match="data.num_frames"):
        VideoDataConfig(num_frames=2, num_shots=3)
