"""Checkpoints and exported weights get the mode open() gives (0644 under umask 022), like config.yaml."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sparse_core.config import save_config
from sparse_core.engine.checkpoint import load_checkpoint, save_checkpoint
from sparse_core.engine.config import TrainConfig
from sparse_core.export import save_weights
from sparse_core.filemode import open_mode


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_open_mode_is_what_open_gives(tmp_path: Path, umask: int) -> None:
    (tmp_path / "plain").write_text("x")
    assert open_mode() == _mode(tmp_path / "plain") == 0o666 & ~umask


def test_checkpoint_and_export_modes_match_config_yaml(tmp_path: Path, umask: int) -> None:
    config = save_config(TrainConfig(), tmp_path / "config.yaml")
    ckpt = save_checkpoint({"w": torch.ones(3), "step": 1}, tmp_path / "checkpoints", step=1)
    weights = save_weights({"w": torch.arange(4.0)}, tmp_path / "model.safetensors")
    expected = 0o666 & ~umask
    assert _mode(config) == expected  # 0644 under the usual umask 022
    assert _mode(ckpt) == expected and _mode(weights) == expected
    # still atomic: only the final names are left, and they load
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [ckpt.name]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert torch.equal(load_checkpoint(ckpt)["w"], torch.ones(3))
    assert torch.equal(load_file(weights)["w"], torch.arange(4.0))


def test_overwriting_export_keeps_open_mode(tmp_path: Path) -> None:
    path = save_weights({"w": torch.zeros(2)}, tmp_path / "m.safetensors")
    os.chmod(path, 0o600)  # the old file's mode does not survive: the new file replaces it
    save_weights({"w": torch.ones(2)}, path)
    assert _mode(path) == open_mode()
