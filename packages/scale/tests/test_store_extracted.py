"""An extracted store reads back record by record, as memory maps, and whole into memory (GPU when present)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scale_video.extract import extract, store_fields
from sparse_core.features import FeatureStore

sys.path.insert(0, str(Path(__file__).parent))
from extract_testutils import _cfg


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    out = tmp_path_factory.mktemp("scale_store")
    extract(_cfg(out, "--stores", "[train]", "--passes", "1"))
    return FeatureStore(Path(out) / "train")


def test_fields_match_the_declared_layout(store: FeatureStore) -> None:
    assert store.fields == store_fields(4, 1280)
    assert len(store) == 5 and [e["count"] for e in store.shards] == [2, 2, 1]


def test_records_equal_the_concatenated_arrays(store: FeatureStore) -> None:
    feats, boxes = store.array("feats"), store.array("boxes")
    for i in range(len(store)):
        rec = store[i]
        np.testing.assert_array_equal(rec["feats"], feats[i])
        np.testing.assert_array_equal(rec["boxes"], boxes[i])
        assert rec["video"] == i and rec["pass"] == 0


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_load_to_device(store: FeatureStore, device: str) -> None:
    data = store.load(["feats", "boxes", "label"], device=device, dtype=torch.float32)
    assert data["feats"].device.type == device and data["feats"].dtype == torch.float32
    assert data["label"].dtype == torch.int64
    torch.testing.assert_close(data["feats"].cpu(), torch.from_numpy(store.array("feats").astype(np.float32)))
