"""No silent garbage: a source with no usable sample is refused before the first step; a step whose every sample
is unreadable stops the run with the step named and nothing more written."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sparse_core.data import DatasetError, probe_dataset
from sparse_core.data.probe import probe_indices
from sparse_core.engine import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression, RegTask, _cfgs


class _Raising(torch.utils.data.Dataset):
    root = "/data/broken"

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> None:
        raise OSError(f"cannot decode clip {i}")


class _GoodForFirstReads(NoisyRegression):
    """Usable for the first ``good_reads`` reads, then every sample is unreadable (a disk going away)."""

    def __init__(self, good_reads: int) -> None:
        super().__init__()
        self.reads, self.good_reads = 0, good_reads

    def __getitem__(self, i: int) -> dict | None:
        self.reads += 1
        return super().__getitem__(i) if self.reads <= self.good_reads else None


def test_probe_indices_are_bounded_and_spread() -> None:
    assert probe_indices(1000, 16) == [int(round(v)) for v in np.linspace(0, 999, 16)]
    assert probe_indices(3, 16) == [0, 1, 2] and probe_indices(0, 16) == []


def test_probe_names_the_source_the_count_and_the_reason() -> None:
    with pytest.raises(DatasetError, match=r"no usable data in /data/broken: all 16 of 40 samples tried failed "
                                           r"\(1x OSError: cannot decode clip 0"):
        probe_dataset(_Raising())
    with pytest.raises(DatasetError, match=r"all 16 of 64 samples tried failed \(16x unreadable"):
        probe_dataset(NoisyRegression(corrupt=tuple(range(64))), what="toy")
    assert probe_dataset(NoisyRegression(corrupt=(0, 4))) == probe_indices(64, 16)[2] == 8  # 0 and 4 are bad


def test_probe_leaves_the_random_state_alone() -> None:
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    probe_dataset(NoisyRegression())  # reads draw augmentation noise
    assert torch.equal(torch.rand(3), expected)


def test_all_corrupt_source_is_refused_before_the_first_step(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path, max_steps=4)
    trainer = Trainer(RegTask(), NoisyRegression(corrupt=tuple(range(64))), train, optim)
    with pytest.raises(DatasetError, match="no usable data"):
        trainer.fit()
    assert trainer.step == 0 and not list(tmp_path.glob("**/*.pt"))


def test_a_step_with_no_usable_sample_stops_the_run(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path, max_steps=8, ckpt_every=100)
    data = _GoodForFirstReads(good_reads=1 + 3 * 8)  # the probe's read, then 3 full steps of batch 8
    trainer = Trainer(RegTask(), data, train, optim)
    with pytest.raises(DatasetError, match=r"step 3: every sample of the batch was unreadable \(8 skipped"):
        trainer.fit()
    assert trainer.step == 3 and not list(tmp_path.glob("**/*.pt"))  # nothing exported at the end
