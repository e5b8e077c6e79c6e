"""scale-extract refuses a folder source without the folders its stores read, before writing any store."""

from __future__ import annotations

from pathlib import Path

import pytest

from scale_video.cli import extract as extract_cli
from sparse_core.testing import assert_cli_refuses


def test_folder_source_needs_val_root_before_any_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    out = tmp_path / "features"
    argv = ["--config", "tiny", "--data.source", "folder", "--data.root", str(videos), "--out_dir", str(out)]
    assert_cli_refuses(extract_cli.main, argv, "data.val_root is required", capsys)
    assert not list(out.rglob("*"))
    assert_cli_refuses(extract_cli.main, [*argv[:4], "--out_dir", str(out), "--data.root", str(tmp_path / "none")],
                       "data.root: no such file or folder", capsys)
