"""The openclipart and emoji sources on tiny fixtures built here (no Debian or PyPI package needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from sfclip.config import DATA_SOURCES, DataConfig, SFCLIPConfig, VisionConfig
from sfclip.data import build_dataset, registered_sources
from sfclip.emoji_set import EmojiSet, emoji_name, emoji_table
from sfclip.openclipart import OpenClipart, caption_of, read_svg_metadata
from sparse_core.data.errors import DatasetError

SVG = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:cc="http://web.resource.org/cc/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <metadata><rdf:RDF><cc:Work rdf:about="">
    <dc:title>{title}</dc:title>
    <dc:subject><rdf:Bag>{tags}</rdf:Bag></dc:subject>
    <dc:publisher><cc:Agent rdf:about="http://www.openclipart.org/"><dc:title>Open Clip Art Library</dc:title>
    </cc:Agent></dc:publisher>
  </cc:Work></rdf:RDF></metadata>
  <rect width="10" height="10"/>
</svg>
"""


def write_openclipart(root: Path, n: int = 10) -> Path:
    """``n`` SVGs with a title and tags (noise included) and their transparent PNGs, in two categories."""
    for i in range(n):
        rel = Path("animals" if i % 2 else "food") / f"item_{i}"
        tags = "".join(f"<rdf:li>{t}</rdf:li>" for t in ["", "hash(0x86669dc)", f"tag_{i}", "Animals", "unsorted"])
        (root / "svg" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "svg" / rel.with_suffix(".svg")).write_text(SVG.format(title=f"Thing &amp; {i}", tags=tags))
        (root / "png" / rel).parent.mkdir(parents=True, exist_ok=True)
        im = Image.new("RGBA", (20, 10), (0, 0, 0, 0))  # transparent, one opaque red column
        im.paste((255, 0, 0, 255), (9, 0, 11, 10))
        im.save(root / "png" / rel.with_suffix(".png"))
    return root


def test_svg_metadata_is_the_works_title_and_tags(tmp_path: Path) -> None:
    root = write_openclipart(tmp_path, 1)
    title, tags = read_svg_metadata(root / "svg" / "food" / "item_0.svg")
    assert title == "Thing & 0"  # the work's own title, not the publisher's, entities decoded
    assert tags == ["", "hash(0x86669dc)", "tag_0", "Animals", "unsorted"]
    assert caption_of(title, tags) == "Thing & 0, tag 0, Animals"  # noise dropped, '_' read as a space
    assert caption_of("Frog", ["frog", "green", "Green"]) == "Frog, green"  # repeats dropped
    assert caption_of("", []) == ""


def test_openclipart_pairs_and_a_seeded_split_by_file(tmp_path: Path) -> None:
    root = write_openclipart(tmp_path)
    train, test = (OpenClipart(root, 16, split, test_fraction=0.3, seed=1) for split in ("train", "test"))
    assert (len(train), len(test)) == (7, 3)
    names = {it.rel for it in train.items} | {it.rel for it in test.items}
    assert len(names) == 10 and not {it.rel for it in train.items} & {it.rel for it in test.items}
    again = OpenClipart(root, 16, "test", test_fraction=0.3, seed=1)
    assert [it.rel for it in again.items] == [it.rel for it in test.items]
    other = OpenClipart(root, 16, "test", test_fraction=0.3, seed=2)
    assert [it.rel for it in other.items] != [it.rel for it in test.items]
    sample = test[0]
    assert sample["caption"].startswith("Thing & ") and sample["image"].shape == (3, 16, 16)
    img = sample["image"]
    torch.testing.assert_close(img[:, 0, 0], torch.ones(3))  # transparency -> white, padded to a square
    assert img[0, 8, 8] > 0.9 and img[1, 8, 8] < 0.2  # the opaque red column in the middle


def test_openclipart_is_registered_and_names_the_packages_when_absent(tmp_path: Path) -> None:
    assert set(registered_sources()) == set(DATA_SOURCES)
    root = write_openclipart(tmp_path / "oc")
    cfg = SFCLIPConfig(vision=VisionConfig(img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=1),
                       data=DataConfig(source="openclipart", root=str(root), split="test", test_fraction=0.2))
    assert len(build_dataset(cfg)) == 2
    with pytest.raises(DatasetError, match="openclipart-svg and openclipart-png"):
        OpenClipart(tmp_path / "missing", 16)


FAKE_TABLE = {"A": {"en": ":letter_a:", "de": ":buchstabe_a:", "ja": ":エー:"},
              "B": {"en": ":letter_b:", "de": ":buchstabe_b:"},  # no Japanese name: left out with ja
              "C\U0001F3FD": {"en": ":c_medium_skin_tone:", "de": ":c_mittel:", "ja": ":シー:"}}


def test_emoji_set_renders_each_with_its_name_per_language() -> None:
    data = EmojiSet(24, ["en", "de", "ja"], table=FAKE_TABLE, font="")
    assert data.emoji == ["A"]  # B lacks ja; the skin-tone variant is left out by default
    assert data.captions_in("de") == ["buchstabe a"] and data.captions_in("ja") == ["エー"]
    assert data.images.shape == (1, 3, 24, 24) and 0 < data.images.mean() < 1  # a glyph on white
    both = EmojiSet(24, ["en", "de"], table=FAKE_TABLE, font="", skin_tones=True)
    assert both.emoji == ["A", "B", "C\U0001F3FD"] and both[1]["caption"] == "letter b"
    assert not torch.equal(both.images[0], both.images[1])
    assert emoji_name(":cara_de_perro:") == "cara de perro"


def test_emoji_errors_name_the_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="fonts-noto-color-emoji"):
        EmojiSet(24, ["en"], table=FAKE_TABLE, font=tmp_path / "missing.ttf")
    monkeypatch.setitem(sys.modules, "emoji", None)  # import emoji -> ImportError
    with pytest.raises(DatasetError, match="pip install emoji"):
        emoji_table()
    with pytest.raises(DatasetError, match="no emoji"):
        EmojiSet(24, ["fr"], table=FAKE_TABLE, font="")
