"""vidrop-compress fit / encode and vidrop-train over the bad-input corpus: no traceback, every bad video
skipped and counted, exit 2 with one line for a root no run can use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sparse_core.testing.badinputs import write_unusable_roots, write_video_corpus
from vidrop.cli import compress
from vidrop.cli import train as train_cli
from vidrop.codec import PatchCodebook

TINY_TRAIN = ["--config", "tiny", "--train.max_steps", "2", "--train.batch_size", "2", "--encoder.depth", "1",
              "--encoder.embed_dim", "48", "--encoder.num_heads", "2", "--head.out_dim", "64",
              "--head.patch_out_dim", "64", "--head.hidden_dim", "64", "--views.num_local", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("vid") / "videos"
    return root, write_video_corpus(root, size=24, frames=32, num_good=2, min_frames=1)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_fit_and_encode_skip_and_count_every_unusable_video(corpus, tmp_path: Path, capsys) -> None:
    root, items = corpus
    unusable = sorted(str(c.path) for c in items if c.kind in ("zero_byte", "truncated", "not_a_video",
                                                                 "audio_only", "six_by_six"))
    cb = tmp_path / "cb.npz"
    assert compress.main(["fit", "--videos", str(root), "--out", str(cb), "--clusters", "8", "--patch_size", "8",
                          "--patches_per_video", "50", "--niter", "2"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert sorted(fit["skipped_files"]) == unusable  # the 6x6 video is smaller than one 8x8 patch
    dst = tmp_path / "codes"
    assert compress.main(["encode", "--codebook", str(cb), "--src", str(root), "--dst", str(dst)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert sorted(rep["skipped_files"]) == unusable and rep["skipped"] == len(unusable)
    used = [c for c in items if str(c.path) not in unusable]
    assert rep["encoded"] == len(used)
    assert PatchCodebook.load(dst / "codebook.npz").num_clusters == 8
    for c in used:
        codes = np.load(dst / c.path.parent.name / f"{c.path.stem}.npy")
        assert codes.shape[1:] == (3, 3)  # 24 px / 8 px patches
    assert not list(dst.rglob("*.tmp"))  # written atomically: no temp file left


def test_unusable_roots_and_files_are_one_line_exit_2(tmp_path: Path, capsys) -> None:
    roots = write_unusable_roots(tmp_path, suffix=".mp4")
    for name in ("missing", "empty", "file", "all_bad"):
        code = compress.main(["fit", "--videos", str(roots[name]), "--out", str(tmp_path / "cb.npz"),
                              "--clusters", "4", "--patch_size", "4"])
        assert code == 2, name
        assert roots[name].name in _one_line_error(capsys), name
    assert not (tmp_path / "cb.npz").exists()
    (tmp_path / "cb_bad.npz").write_bytes(b"PK\x03\x04 torn")
    assert compress.main(["encode", "--codebook", str(tmp_path / "cb_bad.npz"), "--src", str(roots["all_bad"]),
                          "--dst", str(tmp_path / "out")]) == 2
    assert "cb_bad.npz is not a valid codebook file" in _one_line_error(capsys)


@pytest.mark.slow
def test_vidrop_train_on_the_video_corpus(corpus, tmp_path: Path, capsys) -> None:
    root, _items = corpus
    code = train_cli.main([*TINY_TRAIN, "--data.source", "video", "--data.root", str(root),
                           "--train.out_dir", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code == 0, captured.err[-2000:]


def test_every_corpus_video_is_used_or_skipped_with_its_reason(corpus) -> None:
    """The tiny views (two 8-frame clips at stride 2, one per half of the video: 30 frames) under 8-px patches."""
    from sparse_core.config import parse_config
    from vidrop.config import ViDROPConfig
    from vidrop.data.datasets import VideoFolderDataset
    from vidrop.data.views import MultiClipViews

    root, items = corpus
    cfg = parse_config(ViDROPConfig, ["--config", "tiny"], config_dir=train_cli.CONFIG_DIR)
    ds = VideoFolderDataset(root, MultiClipViews(cfg.views, min_side=cfg.encoder.patch_size), max_frames=32)
    got = {Path(path).name: ds[i] is not None for i, (path, _) in enumerate(ds.items)}
    want = {c.path.name: c.expect == "used" for c in items}
    want["one_frame.mp4"] = False  # 1 frame: too short for the views
    assert got == want
    assert ds.skip_reasons["too short"] == 1 and ds.skip_reasons["too small"] == 1, ds.skip_reasons


@pytest.mark.parametrize(("frames", "side", "reason"), [(2, 24, "2x too short"), (32, 4, "2x too small")])
def test_vidrop_train_refuses_a_folder_of_videos_too_short_or_too_small(tmp_path: Path, capsys, frames: int,
                                                                        side: int, reason: str) -> None:
    from sparse_core.testing.badinputs import encode_video

    rng = np.random.default_rng(0)
    (tmp_path / "clips").mkdir()
    for i in range(2):
        encode_video(tmp_path / "clips" / f"v{i}.mp4", rng.integers(0, 255, (frames, side, side, 3), np.uint8))
    code = train_cli.main([*TINY_TRAIN, "--data.source", "video", "--data.root", str(tmp_path / "clips"),
                           "--train.out_dir", str(tmp_path / "run")])
    assert code == 2
    err = _one_line_error(capsys)
    assert "no usable data" in err and "clips" in err and reason in err, err
    assert not list((tmp_path / "run").rglob("*.safetensors"))  # nothing exported


def test_vidrop_train_on_unusable_roots(tmp_path: Path, capsys) -> None:
    roots = write_unusable_roots(tmp_path, suffix=".mp4")
    for name in ("missing", "empty", "file"):
        code = train_cli.main([*TINY_TRAIN, "--data.source", "video", "--data.root", str(roots[name]),
                               "--train.out_dir", str(tmp_path / "run")])
        assert code == 2, name
        _one_line_error(capsys)


def test_corrupt_init_checkpoint_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04 torn")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x04junkjunk")
    for name in ("torn.pt", "junk.pt", "none.pt"):
        code = train_cli.main([*TINY_TRAIN, "--init.kind", "videomae", "--init.path", str(tmp_path / name),
                               "--train.out_dir", str(tmp_path / "run")])
        assert code == 2, name
        err = _one_line_error(capsys)
        assert name in err and "weights_only" not in err, err


def test_vidrop_train_on_codes_with_a_torn_codebook(tmp_path: Path, capsys) -> None:
    codes = tmp_path / "codes"
    (codes / "a").mkdir(parents=True)
    np.save(codes / "a" / "v.npy", np.zeros((4, 3, 3), np.uint8))
    (codes / "codebook.npz").write_bytes(b"PK\x03\x04 torn")
    code = train_cli.main([*TINY_TRAIN, "--data.source", "codes", "--data.root", str(codes),
                           "--train.out_dir", str(tmp_path / "run")])
    assert code == 2
    assert "codebook.npz is not a valid codebook file" in _one_line_error(capsys)
