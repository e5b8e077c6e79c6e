"""dilemma-train refuses an imagefolder run without its evaluation folder before any work (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dilemma_ssl.cli import train as train_cli
from sparse_core.testing import assert_cli_refuses


def _images(root: Path) -> Path:
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(root / c / f"{i}.png")
    return root


@pytest.mark.parametrize(("flags", "key"), [([], "data.eval_root is required"),
                                            (["--data.eval_root", "/no/such/dir"], "data.eval_root: no such folder")])
def test_imagefolder_needs_its_eval_root_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         flags: list[str], key: str) -> None:
    out = tmp_path / "run"
    argv = ["--config", "tiny", "--data.name", "imagefolder", "--data.root", str(_images(tmp_path / "imgs")),
            "--train.out_dir", str(out), *flags]
    assert_cli_refuses(train_cli.main, argv, key, capsys)
    assert not list(out.rglob("*"))  # nothing trained, saved or exported
