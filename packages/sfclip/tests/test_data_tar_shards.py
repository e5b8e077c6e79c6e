"""Webdataset tar shards (written here with webdataset's own TarWriter): pairs found by key, brace patterns,
corrupt images and empty captions skipped and counted, truncated shards, forked DataLoader workers, training."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import torch
import webdataset as wds
from PIL import Image
from sfclip_test_utils import FAST_ARGV
from torch.utils.data import DataLoader

from sfclip.cli.train import main as train_main
from sfclip.config import DataConfig
from sfclip.tar_shards import TarPairs, expand_shards, scan_members
from sparse_core.config import ConfigError
from sparse_core.data.collate import collate_skip_none
from sparse_core.data.errors import DatasetError
from sparse_core.testing import assert_cli_refuses

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def _image_bytes(rgb: tuple[int, int, int], fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), rgb).save(buf, format=fmt)
    return buf.getvalue()


def write_shards(root: Path, per_shard: int = 5, shards: int = 2) -> list[tuple[str, str]]:
    """Shards ``root/pairs-{000..shards-1}.tar`` of good pairs plus, in shard 0, a corrupt jpg, an empty
    caption, an image without caption and a json-only caption. Returns the (key, caption) of the good pairs."""
    root.mkdir(parents=True, exist_ok=True)
    good = []
    names = list(COLOURS)
    for s in range(shards):
        with wds.TarWriter(str(root / f"pairs-{s:03d}.tar")) as sink:
            for i in range(per_shard):
                key, colour = f"{s:03d}{i:05d}", names[(s + i) % 3]
                caption = f"a {colour} photo {s}-{i}"
                fmt, ext = ("PNG", "png") if i % 2 else ("JPEG", "jpg")
                sink.write({"__key__": key, ext: _image_bytes(COLOURS[colour], fmt), "txt": caption,
                            "json": json.dumps({"caption": "ignored: txt wins", "width": 24})})
                good.append((key, caption))
            if s == 0:
                sink.write({"__key__": "bad_jpg", "jpg": b"\xff\xd8 not a jpeg", "txt": "a broken image"})
                sink.write({"__key__": "empty_txt", "jpg": _image_bytes((9, 9, 9)), "txt": "   \n"})
                sink.write({"__key__": "no_caption", "jpg": _image_bytes((9, 9, 9))})
                sink.write({"__key__": "sub/dir.v2/json_only", "webp": _image_bytes((0, 0, 255), "WEBP"),
                            "json": json.dumps({"caption": "a blue square from json"})})
                good.append(("sub/dir.v2/json_only", "a blue square from json"))
    return good


def test_pairs_match_webdataset_and_bad_ones_are_none(tmp_path: Path) -> None:
    good = write_shards(tmp_path)
    data = TarPairs(str(tmp_path / "pairs-{000..001}.tar"), size=8)
    assert len(data) == len(good) + 2  # the corrupt jpg and the empty caption are pairs, read as None
    samples = [data[i] for i in range(len(data))]
    kept = [(data.keys[i], s["caption"]) for i, s in enumerate(samples) if s is not None]
    assert sorted(kept) == sorted(good)
    skipped = sorted(data.keys[i] for i, s in enumerate(samples) if s is None)
    assert skipped == ["bad_jpg", "empty_txt"]
    assert all(s["index"] == i for i, s in enumerate(samples) if s is not None)
    # the reference reader: webdataset itself decodes the same captions and pixels
    ref = {s["__key__"]: s for s in wds.WebDataset(str(tmp_path / "pairs-{000..001}.tar"), shardshuffle=False)
           .decode("rgb", handler=wds.ignore_and_continue)}
    for i, s in enumerate(samples):
        if s is not None and "txt" in ref[data.keys[i]]:
            r = ref[data.keys[i]]
            assert s["caption"] == r["txt"]
            img = next(r[e] for e in ("jpg", "png") if e in r)  # HWC float in [0, 1]
            expect = torch.from_numpy(img).permute(2, 0, 1).mean(dim=(1, 2))
            torch.testing.assert_close(s["image"].mean(dim=(1, 2)), expect, atol=0.02, rtol=0)
    assert data.sample_name(0).endswith("pairs-000.tar:00000000")


def test_forked_workers_read_the_same_samples(tmp_path: Path) -> None:
    write_shards(tmp_path)
    data = TarPairs(f"{tmp_path / 'pairs-000.tar'}::{tmp_path / 'pairs-001.tar'}", size=8)  # webdataset's "::"
    assert len(data) == len(TarPairs(str(tmp_path / "pairs-{000..001}.tar"), size=8))
    _ = data[0]  # a descriptor opened before the fork must not be shared
    loader = DataLoader(data, batch_size=4, num_workers=2, collate_fn=collate_skip_none,
                        multiprocessing_context="fork")
    batches = list(loader)
    assert sum(b["num_skipped"] for b in batches) == 2
    captions = [c for b in batches for c in b.get("caption", [])]
    assert captions == [s["caption"] for s in (data[i] for i in range(len(data))) if s is not None]


def test_truncated_shard_keeps_the_samples_before_the_damage(tmp_path: Path) -> None:
    write_shards(tmp_path, per_shard=6, shards=1)
    raw = (tmp_path / "pairs-000.tar").read_bytes()
    (tmp_path / "cut.tar").write_bytes(raw[: len(raw) // 2])
    data = TarPairs(str(tmp_path / "cut.tar"), size=8)
    assert 0 < len(data) < 6
    assert data[0] is not None and data[0]["caption"] == "a red photo 0-0"


def test_missing_shards_and_empty_lists_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_shards(tmp_path, shards=1)
    with pytest.raises(DatasetError, match=r"data\.shards: 1 of 2 shards are not files, e\.g\..*pairs-001\.tar"):
        expand_shards(str(tmp_path / "pairs-{000..001}.tar"))
    empty = tmp_path / "empty.tar"
    with wds.TarWriter(str(empty)) as sink:
        sink.write({"__key__": "only_image", "jpg": _image_bytes((1, 2, 3))})
    with pytest.raises(DatasetError, match="no image \\+ caption pair"):
        TarPairs(str(empty), 8)
    with pytest.raises(ConfigError, match="data.shards"):
        DataConfig(source="webdataset")
    assert_cli_refuses(train_main, [*FAST_ARGV, "--data.source", "webdataset", "--data.shards",
                                    str(tmp_path / "nope-{0..3}.tar")], "data.shards", capsys)


def test_training_on_tar_shards_counts_the_skipped_pairs(tmp_path: Path) -> None:
    write_shards(tmp_path / "shards")
    out = tmp_path / "run"
    argv = [*FAST_ARGV, "--data.source", "webdataset", "--data.shards", str(tmp_path / "shards/pairs-{000..001}.tar"),
            "--train.batch_size", "6", "--train.max_steps", "4", "--train.out_dir", str(out)]
    assert train_main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped_total"] == 2 and "loss" in rows[-1]


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_header_scan_equals_tarfile(tmp_path: Path, fmt: int) -> None:
    """The fast header scan lists the same regular files, offsets and sizes as :mod:`tarfile`, with long
    names (GNU ``L`` / pax ``path`` / ustar prefix), non-ASCII names, directories and empty members."""
    path = tmp_path / "t.tar"
    with tarfile.open(path, "w", format=fmt) as tar:
        for i in range(30):
            name = f"d{i % 3}/{i:05d}.jpg"
            if i % 5 == 0:
                name = ("p" * 120 + "/" if fmt == tarfile.USTAR_FORMAT else "long" * 40) + name
            if i % 7 == 0 and fmt != tarfile.USTAR_FORMAT:
                name = f"käse_{i}.txt"
            data = b"x" * (i * 37)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            if i == 3:
                folder = tarfile.TarInfo("a_folder")
                folder.type = tarfile.DIRTYPE
                tar.addfile(folder)
    with tarfile.open(path) as tar:
        expected = [(m.name, m.offset_data, m.size) for m in tar if m.isfile()]
    assert scan_members(path) == expected and len(expected) == 30


def test_index_cache_skips_the_scan_and_follows_changed_shards(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sfclip.tar_shards as ts

    write_shards(tmp_path / "s")
    pattern, cache = str(tmp_path / "s/pairs-{000..001}.tar"), tmp_path / "cache"
    first = TarPairs(pattern, 8, index_cache=cache)
    assert len(list(cache.glob("*.npz"))) == 2
    scans: list[Path] = []
    real_scan = ts.scan_members
    monkeypatch.setattr(ts, "scan_members", lambda p: scans.append(p) or real_scan(p))
    again = TarPairs(pattern, 8, index_cache=cache)
    assert scans == [] and list(again.keys) == list(first.keys)
    assert [again[i] is None for i in range(len(again))] == [first[i] is None for i in range(len(first))]
    with wds.TarWriter(str(tmp_path / "s/pairs-001.tar")) as sink:  # rewritten: other size and mtime
        sink.write({"__key__": "fresh", "png": _image_bytes((1, 2, 3), "PNG"), "txt": "a fresh pair"})
    changed = TarPairs(pattern, 8, index_cache=cache)
    assert scans == [tmp_path / "s/pairs-001.tar"] and changed.keys[-1] == "fresh"
    assert changed[len(changed) - 1]["caption"] == "a fresh pair"
