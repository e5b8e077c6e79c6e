"""A corpus of bad input files for the tests of every data-reading CLI.

:func:`write_image_corpus` and :func:`write_video_corpus` write, into ``root/<class>/``, a few good files
and one file of each troublesome kind a user's folder may hold; each is returned as a :class:`BadInput`
saying whether a correct reader *uses* it (decodes it to the right pixels) or *skips* it (warns and counts
it). :func:`write_unusable_roots` makes the roots no run can use (missing, empty, a file, a folder of
unreadable files only), which a CLI refuses with one line and exit status 2.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

__all__ = ["BadInput", "encode_video", "write_image_corpus", "write_unusable_roots", "write_video_corpus"]

Expect = Literal["used", "skipped"]


@dataclass(frozen=True)
class BadInput:
    """One file of the corpus.

    Attributes:
        kind: What is wrong with it (``"zero_byte"``, ``"16bit"``, ``"six_by_six"``, ...).
        path: Where it was written.
        expect: ``"used"`` (a correct reader decodes it) or ``"skipped"`` (warned about and counted).
    """

    kind: str
    path: Path
    expect: Expect


def _gradient(h: int, w: int, seed: int) -> np.ndarray:
    """A deterministic ``(h, w, 3)`` uint8 test picture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(h + w - 2, 1)], -1)
    return np.clip(base + rng.integers(0, 32, (h, w, 3)), 0, 255).astype(np.uint8)


def _png_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_image_corpus(root: str | Path, size: int = 32, num_good: int = 8,
                       huge_side: int = 4096) -> list[BadInput]:
    """Write good and bad images into ``root/a/`` and ``root/b/`` (two classes).

    Args:
        root: Corpus folder (created).
        size: Side of the good images.
        num_good: Good RGB images per class.
        huge_side: Side of the one very large image (decoded and resized, not skipped).

    Returns:
        Every file written, good ones as kind ``"good"``.
    """
    root = Path(root)
    out: list[BadInput] = []

    def put(kind: str, rel: str, data: bytes, expect: Expect) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out.append(BadInput(kind, path, expect))

    for c in ("a", "b"):
        for i in range(num_good):
            put("good", f"{c}/good_{i:02d}.png", _png_bytes(Image.fromarray(_gradient(size, size, i))), "used")
    rgb = Image.fromarray(_gradient(size, size, 99))
    full = _png_bytes(rgb)
    put("zero_byte", "a/zero_byte.png", b"", "skipped")
    put("truncated", "a/truncated.png", full[: len(full) // 2], "skipped")
    put("not_an_image", "a/notes.jpg", b"these are my notes, not a picture\n", "skipped")
    put("wrong_extension", "a/really_a_jpeg.png", _png_bytes(rgb, "JPEG"), "used")
    gray16 = np.linspace(0, 65535, size * size).astype(np.uint16).reshape(size, size)  # a full-range ramp
    put("16bit", "a/gray16.png", _png_bytes(Image.fromarray(gray16)), "used")
    put("cmyk", "b/cmyk.jpg", _png_bytes(rgb.convert("CMYK"), "JPEG"), "used")
    put("palette", "b/palette.png", _png_bytes(rgb.convert("P")), "used")
    put("gray_alpha", "b/gray_alpha.png", _png_bytes(rgb.convert("LA")), "used")
    put("rgba", "b/rgba.png", _png_bytes(rgb.convert("RGBA")), "used")
    put("one_pixel", "b/one_pixel.png", _png_bytes(Image.new("RGB", (1, 1), (200, 10, 10))), "used")
    put("huge", "b/huge.png", _png_bytes(Image.new("RGB", (huge_side, huge_side), (10, 200, 10))), "used")
    return out


def encode_video(path: Path, frames: np.ndarray, pix_fmt: str = "yuv420p") -> None:
    """Write ``(T, H, W, 3)`` RGB or ``(T, H, W)`` grey frames with H.264 (MPEG-4 part 2 without libx264)."""
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    if codec == "mpeg4" and frames.ndim == 3:  # MPEG-4 part 2 has no grey format: store grey as RGB
        frames, pix_fmt = np.repeat(frames[..., None], 3, -1), "yuv420p"
    with av.open(str(path), mode="w") as container:
        stream: Any = container.add_stream(codec, rate=8)  # a VideoStream (PyAV's stubs return a union)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt
        fmt = "gray" if frames.ndim == 3 else "rgb24"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_audio_only(path: Path) -> bool:
    """An ``.mp4`` holding one second of a sine tone and no video stream; False if PyAV cannot write one."""
    try:
        import av

        with av.open(str(path), mode="w") as container:
            stream: Any = container.add_stream("aac", rate=16000)  # an AudioStream
            t = np.arange(16000, dtype=np.float32) / 16000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    except Exception:  # an FFmpeg build without an AAC encoder: leave this kind out
        path.unlink(missing_ok=True)
        return False
    return True


def write_video_corpus(root: str | Path, size: int = 32, frames: int = 8, num_good: int = 4,
                       min_frames: int = 3) -> list[BadInput]:
    """Write good and bad videos into ``root/a/`` and ``root/b/`` (two classes).

    Args:
        root: Corpus folder (created).
        size: Side of the good videos.
        frames: Frames of the good videos.
        num_good: Good videos per class.
        min_frames: Frames a reader needs per video; the 1-frame video is expected skipped when this is > 1.

    Returns:
        Every file written, good ones as kind ``"good"``.
    """
    root = Path(root)
    out: list[BadInput] = []
    clip = np.stack([_gradient(size, size, t) for t in range(frames)])  # (T, S, S, 3)

    def video(kind: str, rel: str, data: np.ndarray, expect: Expect, pix_fmt: str = "yuv420p") -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_video(path, data, pix_fmt)
        out.append(BadInput(kind, path, expect))
        return path

    for c in ("a", "b"):
        for i in range(num_good):
            video("good", f"{c}/good_{i:02d}.mp4", np.roll(clip, 3 * i, axis=2), "used")
    good = (root / "a" / "good_00.mp4").read_bytes()
    for kind, rel, data in (("zero_byte", "a/zero_byte.mp4", b""),
                            ("truncated", "a/truncated.mp4", good[: len(good) // 3]),
                            ("not_a_video", "a/notes.mp4", b"not a video\n")):
        (root / rel).write_bytes(data)
        out.append(BadInput(kind, root / rel, "skipped"))
    if _write_audio_only(root / "b" / "audio_only.mp4"):
        out.append(BadInput("audio_only", root / "b" / "audio_only.mp4", "skipped"))
    video("one_frame", "b/one_frame.mp4", clip[:1], "skipped" if min_frames > 1 else "used")
    video("six_by_six", "b/six_by_six.mp4", clip[:, :6, :6], "skipped")
    video("grayscale", "b/grayscale.mp4", clip[..., 0], "used", pix_fmt="gray")
    return out


def write_unusable_roots(base: str | Path, suffix: str = ".png") -> dict[str, Path]:
    """Roots no run can use: ``missing``, ``empty``, ``file`` and ``all_bad``.

    ``empty`` is a folder, ``file`` a file given as the root and ``all_bad`` a class folder whose only files
    are unreadable.

    Args:
        base: Folder to create them in.
        suffix: File suffix of the unreadable files (``".png"``, ``".mp4"``).

    Returns:
        ``{"missing": ..., "empty": ..., "file": ..., "all_bad": ...}``.
    """
    base = Path(base)
    (base / "empty").mkdir(parents=True, exist_ok=True)
    (base / "file.txt").write_text("a file, not a folder\n")
    bad = base / "all_bad" / "a"
    bad.mkdir(parents=True, exist_ok=True)
    (bad / f"zero{suffix}").write_bytes(b"")
    (bad / f"junk{suffix}").write_bytes(b"junk" * 10)
    return {"missing": base / "missing", "empty": base / "empty", "file": base / "file.txt",
            "all_bad": base / "all_bad"}
