"""Image-text pair folders (corrupt images and empty captions skipped) and the procedural pairs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from sfclip.data import COLOURS, PairFolder, ShapePairs
from sparse_core.data.errors import DatasetError


def test_pair_folder_skips_corrupt_images_and_empty_captions(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (20, 10), (255, 0, 0)).save(tmp_path / f"ok{i}.png")
        (tmp_path / f"ok{i}.txt").write_text(f"a red box {i}\n")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "broken.txt").write_text("a broken file")
    Image.new("RGB", (8, 8)).save(tmp_path / "empty.png")
    (tmp_path / "empty.txt").write_text("  \n")
    Image.new("RGB", (8, 8)).save(tmp_path / "no_caption.png")
    data = PairFolder(tmp_path, size=16)
    assert len(data) == 5  # the image without a .txt is not a pair
    samples = [data[i] for i in range(len(data))]
    kept = [s for s in samples if s is not None]
    assert len(kept) == 3 and sum(s is None for s in samples) == 2
    assert kept[0]["image"].shape == (3, 16, 16) and kept[0]["caption"] == "a red box 0"
    torch.testing.assert_close(kept[0]["image"][0], torch.ones(16, 16))


def test_pair_folder_refuses_a_folder_without_pairs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no image"):
        PairFolder(tmp_path, size=16)


def test_shape_pairs_are_deterministic_and_captioned_by_colour() -> None:
    a, b = ShapePairs(4, 24, seed=3), ShapePairs(4, 24, seed=3)
    for i in range(4):
        assert a[i]["caption"] == b[i]["caption"] and torch.equal(a[i]["image"], b[i]["image"])
        _, colour, _ = a[i]["caption"].split()
        rgb = torch.tensor(COLOURS[colour])
        pixels = a[i]["image"].flatten(1).t()
        assert (pixels == rgb).all(dim=1).any()  # the named colour is painted
