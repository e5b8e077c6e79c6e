"""Bad inputs read by core's data layer: every file of the corpus is decoded right or skipped and counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sparse_core.data import DatasetError, ImageFolderDataset, collate_skip_none, read_image
from sparse_core.data.video import UniformSampler, read_video
from sparse_core.export import read_state_dict, save_weights
from sparse_core.testing.badinputs import write_image_corpus, write_unusable_roots, write_video_corpus


def _reference_rgb(path: Path, kind: str) -> np.ndarray:
    """What the file's pixels are, computed directly from the stored values."""
    img = Image.open(path)
    if kind == "16bit":
        grey = np.asarray(img).astype(np.int64) // 256  # 16-bit -> 8-bit: the top byte
        return np.repeat(grey[..., None], 3, -1).astype(np.uint8)
    if kind in ("gray_alpha",):
        grey = np.asarray(img)[..., 0]
        return np.repeat(grey[..., None], 3, -1)
    if kind == "rgba":
        return np.asarray(img)[..., :3]
    if kind == "palette":
        pal = np.asarray(img.getpalette(), dtype=np.uint8).reshape(-1, 3)
        return pal[np.asarray(img)]
    return np.asarray(img.convert("RGB"))


def test_16bit_grey_png_keeps_its_range(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)
    path = tmp_path / "g16.png"
    Image.fromarray(ramp).save(path)
    got = read_image(path)
    assert got.shape == (3, 8, 8)
    assert torch.equal(got[0], torch.from_numpy((ramp >> 8).astype(np.uint8)))  # not binarised to 0 / 255
    assert len(torch.unique(got)) > 32


@pytest.mark.parametrize("mode", ["I", "F"])
def test_32bit_grey_modes_are_scaled_not_clipped(tmp_path: Path, mode: str) -> None:
    values = np.linspace(0, 65535, 16).reshape(4, 4)
    img = Image.fromarray(values.astype(np.int32 if mode == "I" else np.float32), mode=mode)
    img.save(tmp_path / "g.tiff")
    got = read_image(tmp_path / "g.tiff")[0].numpy()
    assert np.array_equal(got, np.rint(values / 65535 * 255).astype(np.uint8))


def test_image_corpus_every_file_used_correctly_or_skipped(tmp_path: Path) -> None:
    corpus = write_image_corpus(tmp_path / "img", size=16, num_good=2, huge_side=1024)
    for item in corpus:
        if item.expect == "skipped":
            with pytest.raises((OSError, ValueError, SyntaxError)):  # what PIL raises on a bad file
                read_image(item.path)
            continue
        got = read_image(item.path).permute(1, 2, 0).numpy()
        ref = _reference_rgb(item.path, item.kind)
        if item.kind in ("cmyk", "wrong_extension"):  # JPEG: compare with PIL's own RGB decode
            ref = np.asarray(Image.open(item.path).convert("RGB"))
        assert got.shape == ref.shape and np.array_equal(got, ref), item.kind
    ds = ImageFolderDataset(tmp_path / "img")
    assert len(ds) == len(corpus)
    batch = [ds[i] for i in range(len(ds))]
    skipped = {str(ds.samples[i][0]) for i, s in enumerate(batch) if s is None}
    assert skipped == {str(c.path) for c in corpus if c.expect == "skipped"}
    assert ds.num_skipped == len(skipped) == 3
    same_size = [s for s in batch if s is not None and s["image"].shape == (3, 16, 16)]
    assert collate_skip_none([*same_size, None])["num_skipped"] == 1


def test_unusable_image_roots_raise_dataset_error(tmp_path: Path) -> None:
    roots = write_unusable_roots(tmp_path)
    for name in ("missing", "empty", "file", "all_bad"):
        with pytest.raises(DatasetError, match=str(roots[name].name)):
            ImageFolderDataset(roots[name])


def test_a_list_file_naming_no_existing_video_is_refused(tmp_path: Path) -> None:
    from sparse_core.data.video import list_videos

    roots = write_unusable_roots(tmp_path, suffix=".mp4")
    with pytest.raises(DatasetError, match="file.txt is a file but neither a video"):
        list_videos(roots["file"])
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    with pytest.raises(DatasetError, match="blob.bin is a file but neither a video"):
        list_videos(tmp_path / "blob.bin")


def test_video_corpus_decodes_or_raises(tmp_path: Path) -> None:
    corpus = write_video_corpus(tmp_path / "vid", size=16, frames=6, num_good=1)
    kinds = {c.kind for c in corpus}
    assert {"zero_byte", "truncated", "one_frame", "six_by_six", "grayscale"} <= kinds
    for item in corpus:
        if item.kind in ("zero_byte", "truncated", "not_a_video", "audio_only"):
            with pytest.raises(Exception):  # noqa: B017 - decord / PyAV raise their own error types
                read_video(item.path)
        else:
            clip = read_video(item.path)
            assert clip.dtype == torch.uint8 and clip.ndim == 4 and clip.shape[-1] == 3
    audio = [c for c in corpus if c.kind == "audio_only"]
    if audio:
        with pytest.raises(ValueError, match="no video stream"):
            read_video(audio[0].path)


def test_read_video_decodes_only_the_kept_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a frame count in the header, the PyAV reader stops after the last index it needs."""
    import av

    corpus = write_video_corpus(tmp_path / "vid", size=16, frames=40, num_good=1)
    path = next(c.path for c in corpus if c.kind == "good")
    full = read_video(path, backend="pyav")
    decoded: list[int] = []
    real_decode = av.container.InputContainer.decode

    def counting_decode(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        for frame in real_decode(self, *args, **kwargs):
            decoded.append(1)
            yield frame

    monkeypatch.setattr(av.container.InputContainer, "decode", counting_decode)
    first = read_video(path, indices=range(4), backend="pyav")
    assert torch.equal(first, full[:4])
    assert len(decoded) <= 8  # not all 40 frames
    decoded.clear()
    kept = read_video(path, sampler=UniformSampler(4), backend="pyav")
    assert kept.shape[0] == 4


def test_corrupt_weight_files_get_our_message_never_unpickling_advice(tmp_path: Path) -> None:
    save_weights({"w": torch.ones(3)}, tmp_path / "good.safetensors")
    torch.save({"w": torch.ones(3)}, tmp_path / "good.pt")
    cases = {
        "trunc.safetensors": (tmp_path / "good.safetensors").read_bytes()[:40],
        "trunc.pt": (tmp_path / "good.pt").read_bytes()[:60],
        "zero.pt": b"",
        "pickle_junk.pt": b"\x80\x04junkjunkjunk",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        expected = rf"{name} is not a readable [a-z ]+: not a valid checkpoint/weights file"
        with pytest.raises(DatasetError, match=expected) as err:
            read_state_dict(tmp_path / name)
        msg = str(err.value)
        assert "weights_only" not in msg and "unpickl" not in msg.lower() and "\n" not in msg, name


def test_an_image_past_the_decompression_bomb_limit_is_skipped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_image_corpus(tmp_path / "img", size=16, num_good=1, huge_side=512)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # 512 x 512 is past twice this limit
    ds = ImageFolderDataset(tmp_path / "img")
    huge = next(i for i, (p, _) in enumerate(ds.samples) if p.name == "huge.png")
    assert ds[huge] is None  # PIL's DecompressionBombError
    assert ds.num_skipped == 1
    one_pixel = next(i for i, (p, _) in enumerate(ds.samples) if p.name == "one_pixel.png")
    assert ds[one_pixel]["image"].shape == (3, 1, 1)  # a 1x1 image is decoded (the transform resizes it)


def test_palette_transparency_and_every_mode_decode_without_a_pil_warning(tmp_path: Path) -> None:
    """PIL warns once per image for a palette image with transparency converted straight to RGB; ours goes
    through RGBA (PIL's advice), so a folder of them prints nothing (issue: the warning repeated per image)."""
    import warnings

    from sparse_core.data.image_folder import read_resized

    rgb = Image.fromarray(np.arange(48 * 3, dtype=np.uint8).reshape(4, 12, 3).repeat(4, 0))
    pal = rgb.convert("P")
    pal.info["transparency"] = b"\x00" * 8  # transparency expressed in bytes: PIL's warning case
    pal.save(tmp_path / "pal.png", transparency=b"\x00" * 8)
    with Image.open(tmp_path / "pal.png") as check:
        assert check.mode == "P" and "transparency" in check.info
        with warnings.catch_warnings(record=True) as direct:
            warnings.simplefilter("always")
            check.convert("RGB")
    assert direct, "the fixture must be one PIL warns about"
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        img = read_image(tmp_path / "pal.png")
        small = read_resized(tmp_path / "pal.png", 8)
    assert not ours, [str(w.message) for w in ours]
    assert img.shape == (3, 16, 12) and small.shape == (3, 8, 8)
    assert 0.0 <= float(small.min()) <= float(small.max()) <= 1.0
