"""The codec on real-footage-sized inputs: chunked reading with bounded memory, the two compression factors,
class / flat / single-file sources, the progress line, and the codebook <-> coder modules without a cycle."""

from __future__ import annotations

import ast
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.data.video import MotionShapes, read_video, write_video, write_video_folder
from sparse_core.eval.metrics import psnr as core_psnr
from vidrop.cli import compress
from vidrop.codec import (
    PatchCodebook,
    VideoStream,
    decode,
    encode,
    encode_file,
    fit_codebook,
    psnr,
    round_trip_file,
    sample_patches,
)
from vidrop.codec.folder import encode_folder


def _moving_gradient(num_frames: int, h: int = 48, w: int = 56) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames of a diagonal colour gradient sliding a few pixels per frame."""
    t = np.arange(num_frames)[:, None, None]
    y, x = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    shape = (num_frames, h, w)
    r = np.broadcast_to((4 * x + 3 * t) % 256, shape)
    g = np.broadcast_to((5 * y + 2 * t) % 256, shape)
    b = np.broadcast_to((2 * (x + y) + t) % 256, shape)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def _codebook(frames: np.ndarray, p: int = 8, k: int = 16) -> PatchCodebook:
    return fit_codebook(sample_patches([frames], p, 4000, seed=0), k, p, niter=5)


def test_stream_yields_the_decoded_frames_in_budgeted_chunks(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", _moving_gradient(23))
    ref = read_video(path, backend="pyav").numpy()
    stream = VideoStream(path, chunk_pixels=48 * 56 * 5)  # 5 frames per chunk
    chunks = list(stream)
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(chunks), ref)
    assert stream.frames_read == 23 and stream.header_frames == 23 and not stream.truncated
    cut = VideoStream(path, max_frames=7, chunk_pixels=48 * 56 * 5)
    np.testing.assert_array_equal(np.concatenate(list(cut)), ref[:7])
    assert cut.truncated and cut.expected_frames == 7


def test_streamed_psnr_equals_core_psnr_of_the_whole_video(tmp_path: Path) -> None:
    frames = _moving_gradient(30, 44, 52)  # 44 x 52: the 8 x 8 grid crops 4 rows / columns
    path = write_video(tmp_path / "v.mp4", frames)
    src = read_video(path, backend="pyav").numpy()
    cb = _codebook(src)
    rt = round_trip_file(path, cb, chunk_pixels=44 * 52 * 4)  # 8 chunks
    rec = decode(encode(src, cb), cb)
    whole = float(core_psnr(torch.from_numpy(rec), torch.from_numpy(src[:, :40, :48]), data_range=255.0, dim=None))
    assert rt.psnr_db == pytest.approx(whole, abs=1e-4)
    assert psnr(src, rec) == pytest.approx(whole, abs=1e-4)
    mse = np.mean((src[:, :40, :48].astype(np.float64) - rec) ** 2)
    assert rt.psnr_db == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-4)
    assert rt.frame_size == (44, 52) and rt.size.frames == 30


def _peak_bytes(path: Path, cb: PatchCodebook) -> int:
    tracemalloc.start()
    try:
        round_trip_file(path, cb, chunk_pixels=96 * 96 * 4)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_round_trip_peak_memory_does_not_grow_with_video_length(tmp_path: Path) -> None:
    """A 400-frame video round-trips within the same peak (numpy allocations) as a 50-frame one."""
    short = write_video(tmp_path / "short.mp4", _moving_gradient(50, 96, 96))
    long = write_video(tmp_path / "long.mp4", _moving_gradient(400, 96, 96))
    cb = _codebook(_moving_gradient(8, 96, 96))
    _peak_bytes(short, cb)  # warm-up: lazy imports, faiss / PyAV first-use allocations
    peak_short, peak_long = _peak_bytes(short, cb), _peak_bytes(long, cb)
    raw_long = 400 * 96 * 96 * 3  # 11 MB: reading the whole video would exceed it (float patches: 4x)
    assert peak_long < 1.25 * peak_short + (256 << 10), (peak_short, peak_long)
    assert peak_long < raw_long / 4, (peak_long, raw_long)


def test_two_compression_factors_are_the_byte_ratios(tmp_path: Path) -> None:
    frames = _moving_gradient(12, 44, 52)
    path = write_video(tmp_path / "v.mp4", frames)
    cb = _codebook(frames)  # 16 clusters: uint8 indices
    codes, size = encode_file(path, cb)
    assert codes.shape == (12, 5, 6) and codes.dtype == np.uint8
    assert size.code_bytes == codes.nbytes == 12 * 5 * 6
    assert size.raw_rgb_bytes == 12 * 44 * 52 * 3  # the full source frames, crop included
    assert size.factor_vs_raw_rgb == pytest.approx(12 * 44 * 52 * 3 / (12 * 5 * 6))
    assert size.factor_vs_source_file == pytest.approx(path.stat().st_size / (12 * 5 * 6))
    _, cut = encode_file(path, cb, max_frames=3)  # a prefix: the file's size is prorated by frames
    assert cut.frames == 3 and cut.source_bytes == pytest.approx(path.stat().st_size * 3 / 12)
    res = compress.run(["psnr", "--codebook", str(cb.save(tmp_path / "cb.npz")), "--video", str(path)])
    assert res["factor_vs_raw_rgb"] == pytest.approx(size.factor_vs_raw_rgb)
    assert res["factor_vs_source_file"] == pytest.approx(size.factor_vs_source_file)
    assert "raw RGB" in res["factors"] and "source video file" in res["factors"]
    assert res["codebook_bytes"] == (tmp_path / "cb.npz").stat().st_size


def _sources(tmp_path: Path) -> dict[str, Path]:
    """The same kind of clips as class folders, as a flat folder of .avi-like files, and as one file."""
    classes = tmp_path / "classes"
    write_video_folder(classes, MotionShapes(3, num_frames=5, image_size=32, seed=2))
    flat = tmp_path / "flat"
    for i, f in enumerate(sorted(classes.rglob("*.mp4"))):
        (flat / f"clip{i}.mp4").parent.mkdir(parents=True, exist_ok=True)
        (flat / f"clip{i}.mp4").write_bytes(f.read_bytes())
    return {"classes": classes, "flat": flat, "single": flat / "clip1.mp4"}


@pytest.mark.parametrize("kind", ["classes", "flat", "single"])
def test_fit_and_encode_take_class_folders_a_flat_folder_or_one_file(tmp_path: Path, kind: str) -> None:
    src = _sources(tmp_path)[kind]
    cb_path = tmp_path / "cb.npz"
    assert compress.main(["fit", "--videos", str(src), "--patch_size", "8", "--clusters", "8",
                          "--patches_per_video", "200", "--out", str(cb_path)]) == 0
    dst = tmp_path / "codes"
    res = compress.run(["encode", "--codebook", str(cb_path), "--src", str(src), "--dst", str(dst)])
    videos = sorted(src.rglob("*.mp4")) if src.is_dir() else [src]
    assert res["encoded"] == len(videos) == {"classes": 3, "flat": 3, "single": 1}[kind]
    cb = PatchCodebook.load(cb_path)
    for v in videos:  # codes mirror the source's paths; each equals the array encoding of the video
        out = dst / (v.relative_to(src) if src.is_dir() else Path(v.name)).with_suffix(".npy")
        np.testing.assert_array_equal(np.load(out), encode(read_video(v, backend="pyav").numpy(), cb))
    assert (dst / "codebook.npz").is_file()
    assert res["frames"] == 5 * len(videos)


def test_encode_and_psnr_show_a_progress_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not on a terminal (pytest's capture): core's plain progress lines, in videos, or in frames for one video."""
    src = _sources(tmp_path)["flat"]
    cb = _codebook(read_video(src / "clip0.mp4", backend="pyav").numpy(), k=8)
    rep = encode_folder(src, tmp_path / "codes", cb)
    err = capsys.readouterr().err
    assert rep.encoded == 3 and "encode: 3/3 video (100%)" in err and "frames=15" in err
    path = write_video(tmp_path / "long.mp4", _moving_gradient(40))
    compress.run(["psnr", "--codebook", str(cb.save(tmp_path / "cb.npz")), "--video", str(path)])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("psnr: ")]
    assert lines[0].startswith("psnr: 2/40 frame (5%)") and lines[-1].startswith("psnr: 40/40 frame (100%)")
    assert len(lines) == 20


def test_psnr_of_an_unreadable_video_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"not a video" * 10)
    cb = PatchCodebook(np.zeros((4, 8 * 8 * 3), np.float32), 8).save(tmp_path / "cb.npz")
    assert compress.main(["psnr", "--codebook", str(cb), "--video", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err


def test_codebook_and_coder_modules_do_not_import_each_other_in_a_cycle() -> None:
    root = Path(compress.__file__).parents[1] / "codec"

    def imports(name: str) -> set[str]:
        tree = ast.parse((root / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "vidrop.codec.patches" not in imports("codebook")
    assert "vidrop.codec.codebook" in imports("patches")
    assert not {m for m in imports("grid") if m.startswith("vidrop.")}
