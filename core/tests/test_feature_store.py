"""The sharded feature store: round trip, resume after a kill, torn temporary folders, bad indexes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.config import ConfigError
from sparse_core.features import TEMP_PREFIX, FeatureStore, FeatureStoreWriter

FIELDS = {"feats": ((4, 3), "float16"), "boxes": ((4, 6), "float32"), "label": ((), "int64")}


def _shard(shard_id: int, n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(shard_id)
    return {"feats": rng.standard_normal((n, 4, 3)).astype(np.float32),  # cast to float16 on write
            "boxes": rng.random((n, 4, 6)).astype(np.float32),
            "label": rng.integers(0, 10, n)}


def _write_all(root: Path, ids: list[int]) -> None:
    writer = FeatureStoreWriter(root, FIELDS)
    for i in ids:
        if not writer.has_shard(i):
            writer.write_shard(i, _shard(i, n=3 + i))
    writer.set_meta({"backbone": "x", "passes": 2})


def test_round_trip(tmp_path: Path) -> None:
    writer = FeatureStoreWriter(tmp_path, FIELDS)
    shards = {i: _shard(i, n=3 + i) for i in (2, 0, 1)}  # written out of order, read in id order
    for i, arrays in shards.items():
        path = writer.write_shard(i, arrays)
        assert path == tmp_path / f"shard_{i:05d}" and (path / "feats.npy").is_file()
    writer.set_meta({"note": "hi"})
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["version"] == 1
    assert index["fields"]["feats"] == {"shape": [4, 3], "dtype": "float16"}
    assert [s["id"] for s in index["shards"]] == [0, 1, 2] and [s["count"] for s in index["shards"]] == [3, 4, 5]

    store = FeatureStore(tmp_path)
    assert len(store) == 12 and store.meta == {"note": "hi"} and store.fields == {
        "feats": ((4, 3), "float16"), "boxes": ((4, 6), "float32"), "label": ((), "int64")}
    expected = {k: np.concatenate([shards[i][k] for i in (0, 1, 2)]) for k in FIELDS}
    feats = store.array("feats")
    assert feats.dtype == np.float16 and feats.shape == (12, 4, 3)
    np.testing.assert_array_equal(feats, expected["feats"].astype(np.float16))
    np.testing.assert_array_equal(store.array("label"), expected["label"])
    for i in (0, 4, 11, -1):
        rec = store[i]
        np.testing.assert_array_equal(rec["boxes"], expected["boxes"][i])
        assert rec["label"] == expected["label"][i]
    with pytest.raises(IndexError):
        store[12]
    loaded = store.load(["feats", "label"], device="cpu", dtype=torch.float32)
    assert set(loaded) == {"feats", "label"}
    assert loaded["feats"].dtype == torch.float32 and loaded["label"].dtype == torch.int64  # ints keep dtype
    torch.testing.assert_close(loaded["feats"], torch.from_numpy(expected["feats"].astype(np.float16)).float())


def test_single_shard_is_memory_mapped(tmp_path: Path) -> None:
    FeatureStoreWriter(tmp_path, FIELDS).write_shard(0, _shard(0))
    assert isinstance(FeatureStore(tmp_path).array("boxes"), np.memmap)


def test_resume_after_kill_writes_only_missing_shards(tmp_path: Path) -> None:
    ids = [0, 1, 2, 3]
    _write_all(tmp_path / "whole", ids)

    part = tmp_path / "part"
    writer = FeatureStoreWriter(part, FIELDS)
    writer.write_shard(0, _shard(0, n=3))
    writer.write_shard(1, _shard(1, n=4))
    torn = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=part))  # a kill mid-shard leaves its temp folder
    (torn / "feats.npy").write_bytes(b"\x93NUMPY torn")
    orphan = part / "shard_00002"  # and a kill between the rename and the index update leaves an orphan
    orphan.mkdir()
    (orphan / "feats.npy").write_bytes(b"garbage")
    assert len(FeatureStore(part)) == 7  # readers see only what the index lists
    del writer

    before = {p: p.stat().st_mtime_ns for p in (part / "shard_00000").iterdir()}
    resumed = FeatureStoreWriter(part)  # fields from the index
    assert not torn.exists() and not orphan.exists()
    assert sorted(p.name for p in resumed.removed_leftovers) == sorted([torn.name, orphan.name])
    assert [i for i in ids if not resumed.has_shard(i)] == [2, 3]
    written = []
    for i in ids:
        if not resumed.has_shard(i):
            resumed.write_shard(i, _shard(i, n=3 + i))
            written.append(i)
    resumed.set_meta({"backbone": "x", "passes": 2})
    assert written == [2, 3]
    assert {p: p.stat().st_mtime_ns for p in (part / "shard_00000").iterdir()} == before  # untouched

    a, b = FeatureStore(tmp_path / "whole"), FeatureStore(part)
    assert len(a) == len(b) == 18 and a.meta == b.meta
    for name in FIELDS:
        np.testing.assert_array_equal(a.array(name), b.array(name))
    whole_index = json.loads((tmp_path / "whole" / "index.json").read_text())
    assert json.loads((part / "index.json").read_text()) == whole_index


def test_rewriting_a_shard_replaces_it(tmp_path: Path) -> None:
    writer = FeatureStoreWriter(tmp_path, FIELDS)
    writer.write_shard(0, _shard(0, n=3))
    writer.write_shard(0, _shard(7, n=2))
    store = FeatureStore(tmp_path)
    assert len(store) == 2
    np.testing.assert_array_equal(store.array("label"), _shard(7, n=2)["label"])


def test_bad_shards_rejected(tmp_path: Path) -> None:
    writer = FeatureStoreWriter(tmp_path, FIELDS)
    good = _shard(0)
    with pytest.raises(ConfigError, match="missing fields"):
        writer.write_shard(0, {k: v for k, v in good.items() if k != "label"})
    with pytest.raises(ConfigError, match="shape"):
        writer.write_shard(0, {**good, "boxes": good["boxes"][:, :, :5]})
    with pytest.raises(ConfigError, match="records"):
        writer.write_shard(0, {**good, "label": good["label"][:2]})
    assert not writer.has_shard(0) and not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())
    with pytest.raises(ConfigError, match="not the requested"):
        FeatureStoreWriter(tmp_path, {"feats": ((4, 3), "float32")})


@pytest.mark.parametrize("content, match", [
    (None, "no feature store index"),
    ("{not json", "corrupt"),
    ('{"version": 9, "fields": {}, "shards": []}', "version"),
    ('{"version": 1, "fields": {"a": {"shape": [2]}}, "shards": []}', "dtype"),
    ('{"version": 1, "fields": {"a": {"shape": [2], "dtype": "float32"}}, "shards": {}}', "shards"),
    ('{"version": 1, "fields": {"a": {"shape": [2], "dtype": "float32"}},'
     ' "shards": [{"id": 0, "count": 1, "dir": "../elsewhere"}]}', "outside"),
    ('{"version": 1, "fields": {"a": {"shape": [2], "dtype": "float32"}},'
     ' "shards": [{"id": 0, "count": 1, "dir": "/tmp"}]}', "outside"),
])
def test_bad_index_is_a_clear_error(tmp_path: Path, content: str | None, match: str) -> None:
    if content is not None:
        (tmp_path / "index.json").write_text(content)
    with pytest.raises(ConfigError, match=match) as err:
        FeatureStore(tmp_path)
    assert "index.json" in str(err.value)


def test_missing_shard_file_is_a_clear_error(tmp_path: Path) -> None:
    FeatureStoreWriter(tmp_path, FIELDS).write_shard(0, _shard(0))
    (tmp_path / "shard_00000" / "boxes.npy").unlink()
    with pytest.raises(ConfigError, match="boxes.npy"):
        FeatureStore(tmp_path).array("boxes")


def test_writer_without_fields_or_index(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no fields"):
        FeatureStoreWriter(tmp_path / "new")


def test_shard_info_is_kept_with_the_shard(tmp_path: Path) -> None:
    writer = FeatureStoreWriter(tmp_path, FIELDS)
    writer.write_shard(0, _shard(0), info={"skipped": [{"video": 3, "reason": "too_short"}]})
    writer.write_shard(1, _shard(1))
    store = FeatureStore(tmp_path)
    assert store.shards[0]["info"] == {"skipped": [{"video": 3, "reason": "too_short"}]}
    assert "info" not in store.shards[1]
    assert FeatureStoreWriter(tmp_path).has_shard(0)
    with pytest.raises(ConfigError, match="JSON"):
        writer.write_shard(2, _shard(2), info={"x": object()})
