"""scale-extract end to end: fields of the stores, resume after a kill (bitwise), skipped videos, bad configs."""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from scale_video.cli.extract import main
from scale_video.config import CONFIG_DIR, ExtractConfig
from scale_video.extract import extract
from sparse_core.config import ConfigError
from sparse_core.data.video import MotionShapes, write_video
from sparse_core.features import TEMP_PREFIX, FeatureStore, FeatureStoreWriter

sys.path.insert(0, str(Path(__file__).parent))
from extract_testutils import SMALL, _cfg


def _arrays(root: Path) -> dict[str, np.ndarray]:
    store = FeatureStore(root)
    return {name: np.array(store.array(name)) for name in store.fields}


def test_stores_hold_the_fields_the_trainer_reads(tmp_path: Path) -> None:
    summary = extract(_cfg(tmp_path, "--stores", "[train, val_eval]"))
    assert summary["train"]["records"] == 10 and summary["val_eval"]["records"] == 3  # 5 videos x 2 passes
    train = FeatureStore(tmp_path / "train")
    assert train.fields == {"feats": ((4, 1280), "float16"), "boxes": ((4, 6), "float32"), "label": ((), "int64"),
                            "video": ((), "int64"), "pass": ((), "int64")}
    assert train.meta["mode"] == "train" and train.meta["complete"] and train.meta["num_classes"] == 8
    np.testing.assert_array_equal(train.array("video"), np.tile(np.arange(5), 2))
    np.testing.assert_array_equal(train.array("pass"), np.repeat([0, 1], 5))
    np.testing.assert_array_equal(train.array("label"), [MotionShapes(5).label(v) for v in train.array("video")])
    feats = train.array("feats").astype(np.float32)
    assert np.isfinite(feats).all() and feats.std() > 0
    assert not np.array_equal(feats[:5], feats[5:])  # another pass, other crops
    boxes = train.array("boxes")
    assert (boxes >= 0).all() and (boxes <= 1).all() and (boxes[..., 3:] > boxes[..., :3]).all()
    val = FeatureStore(tmp_path / "val_eval")
    assert val.fields["feats"] == ((2, 1280), "float16") and val.meta["views"] == [2, 1]
    # uniform views: whole frame, temporal windows evenly spread (12 frames, 2 frames at stride 2 -> span 3)
    np.testing.assert_allclose(val.array("boxes")[0], [[0, 0, 2 / 12, 1, 1, 5 / 12], [0, 0, 7 / 12, 1, 1, 10 / 12]],
                               rtol=1e-6)


def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extract(_cfg(tmp_path / "whole", "--stores", "[train]"))

    real = FeatureStoreWriter.write_shard
    calls = {"n": 0}

    def killed_after_two(self, shard_id, arrays, info=None):
        if calls["n"] == 2:
            Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root))  # the torn temp folder of the killed shard
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(self, shard_id, arrays, info)

    monkeypatch.setattr(FeatureStoreWriter, "write_shard", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        extract(_cfg(tmp_path / "part", "--stores", "[train]"))
    monkeypatch.setattr(FeatureStoreWriter, "write_shard", real)
    assert [e["id"] for e in FeatureStore(tmp_path / "part" / "train").shards] == [0, 1]

    summary = extract(_cfg(tmp_path / "part", "--stores", "[train]", "--backbone.device", "cpu"))
    assert summary["train"]["shards_written"] == 4  # 6 shards (3 per pass), 2 were complete
    assert not any(p.name.startswith(TEMP_PREFIX) for p in (tmp_path / "part" / "train").iterdir())
    a, b = _arrays(tmp_path / "whole" / "train"), _arrays(tmp_path / "part" / "train")
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name  # bitwise
    again = extract(_cfg(tmp_path / "part", "--stores", "[train]"))
    assert again["train"]["shards_written"] == 0


def test_more_passes_only_append(tmp_path: Path) -> None:
    extract(_cfg(tmp_path, "--stores", "[train]", "--passes", "1"))
    first = _arrays(tmp_path / "train")
    summary = extract(_cfg(tmp_path, "--stores", "[train]", "--passes", "2"))
    assert summary["train"]["shards_written"] == 3 and summary["train"]["records"] == 10
    np.testing.assert_array_equal(_arrays(tmp_path / "train")["feats"][:5], first["feats"])


def test_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    extract(_cfg(tmp_path, "--stores", "[val_eval]"))
    with pytest.raises(ConfigError, match="sampling.eval_stride"):
        extract(_cfg(tmp_path, "--stores", "[val_eval]", "--sampling.eval_stride", "1"))
    # settings the store does not read keep it resumable (training crops, the training split's size)
    again = extract(_cfg(tmp_path, "--stores", "[val_eval]", "--sampling.color_jitter", "0.1",
                         "--data.num_videos", "7", "--backbone.batch_size", "3"))
    assert again["val_eval"]["shards_written"] == 0


def test_corrupt_and_too_short_videos_are_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "videos"
    shapes = MotionShapes(4, num_frames=12, image_size=32)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
    write_video(root / "a" / "good0.mp4", shapes.video(0))
    write_video(root / "b" / "good1.mp4", shapes.video(1))
    write_video(root / "b" / "short.mp4", shapes.video(2)[:1])  # one frame: fewer than a 2-frame clip needs
    write_video(root / "b" / "small.mp4", shapes.video(3)[:, :8, :8])  # 8x8 px: under data.min_side (16)
    (root / "a" / "zero.mp4").write_bytes(b"")  # corrupt: zero bytes
    args = ["--data.source", "folder", "--data.root", str(root), "--data.val_root", str(root), "--passes", "1"]
    with caplog.at_level(logging.WARNING, logger="scale_video.extract"):
        summary = extract(_cfg(tmp_path / "out", "--stores", "[train, val_eval]", *args))
    for store in ("train", "val_eval"):
        assert summary[store]["videos"] == 5 and summary[store]["records"] == 2
        assert summary[store]["skipped"] == {"too_short": 1, "too_small": 1, "unreadable": 1}
        st = FeatureStore(tmp_path / "out" / store)
        assert st.meta["skipped"] == {"too_short": 1, "too_small": 1, "unreadable": 1}
        assert st.meta["classes"] == ["a", "b"]
        np.testing.assert_array_equal(st.array("label"), [0, 1])
    assert "zero.mp4" in caplog.text and "short.mp4" in caplog.text and "small.mp4" in caplog.text
    err = capsys.readouterr().err  # progress on by default: lines with the ETA off a terminal
    assert "extract train: 5/5 set (100%)" in err and "extract val_eval: 5/5 set (100%)" in err


@pytest.mark.parametrize("kind", ["unreadable", "too small"])
def test_a_folder_without_one_usable_video_is_refused_before_any_store(tmp_path: Path, kind: str,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "videos"
    root.mkdir()
    shapes = MotionShapes(3, num_frames=12, image_size=32)
    for i in range(3):
        if kind == "unreadable":
            (root / f"v{i}.mp4").write_bytes(b"not a video")
        else:
            write_video(root / f"v{i}.mp4", shapes.video(i)[:, :8, :8])
    out = tmp_path / "out"
    assert main(["--config", "tiny", "--out_dir", str(out), "--data.source", "folder", "--data.root", str(root),
                 "--data.val_root", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert f"data.root: no usable video in {root}: all 3 of 3 tried were skipped (3x {kind}" in err[0], err
    assert not list(out.rglob("*.npy")) and not (out / "train").exists()


def test_cli_bad_keys_and_values_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "tiny", "--no_such_key", "1"]) == 2
    assert main(["--config", "tiny", "--sampling.bogus", "3"]) == 2
    assert main(["--config", "tiny", "--out_dir", str(tmp_path), "--backbone.name", "nope"]) == 2
    assert main(["--config", "tiny", "--out_dir", str(tmp_path), "--stores", "[everything]"]) == 2
    assert main(["--config", "tiny", "--out_dir", str(tmp_path), "--data.source", "folder"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("scale-extract: ") for line in err)
    assert "no_such_key" in err[0] and "bogus" in err[1] and "efficientnet_lite0" in err[2]
    assert "data.root" in err[4]


def test_cli_runs_and_prints_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", "tiny", "--out_dir", str(tmp_path), *SMALL, "--stores", "[val_eval]"]) == 0
    assert '"val_eval"' in capsys.readouterr().out
    assert (tmp_path / "extract_config.yaml").is_file() and (tmp_path / "val_eval" / "videos.json").is_file()


@pytest.mark.parametrize("name", ["tiny", "k400", "ssv2", "ucf101", "hmdb51", "lvu"])
def test_shipped_configs_parse(name: str) -> None:
    from sparse_core.config import parse_config

    cfg = parse_config(ExtractConfig, ["--config", name],
                       config_dir=CONFIG_DIR / "extract")
    if name == "tiny":
        assert cfg.backbone.name == "efficientnet_lite0" and cfg.data.source == "motion_shapes"
    else:  # thesis scale: 16 clips x 16 frames, 224 px, folder layouts, 5 x 3 views (2 x 3 for SSv2)
        assert (cfg.sampling.num_clips, cfg.sampling.num_frames, cfg.sampling.size) == (16, 16, 224)
        assert cfg.data.source == "folder" and cfg.data.root and cfg.data.val_root
        views = (cfg.sampling.eval_temporal, cfg.sampling.eval_spatial)
        assert views == {"ssv2": (2, 3), "lvu": (10, 3)}.get(name, (5, 3))


def test_worker_processes_give_the_same_store(tmp_path: Path) -> None:
    extract(_cfg(tmp_path / "w0", "--stores", "[train]", "--passes", "1"))
    extract(_cfg(tmp_path / "w2", "--stores", "[train]", "--passes", "1", "--num_workers", "2"))
    a, b = _arrays(tmp_path / "w0" / "train"), _arrays(tmp_path / "w2" / "train")
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "--sampling.num_clips" in capsys.readouterr().out


def test_shot_shapes_source_labels_and_frames(tmp_path: Path) -> None:
    """data.source=shot_shapes: core's ShotShapes videos (labels = distinct kinds - 1, 3 classes) in the store."""
    from sparse_core.data.video import ShotShapes

    summary = extract(_cfg(tmp_path, "--stores", "[val_eval]", "--data.source", "shot_shapes"))
    assert summary["val_eval"]["records"] == 3
    store = FeatureStore(tmp_path / "val_eval")
    assert store.meta["num_classes"] == 3
    expected = ShotShapes(3, num_shots=3, shot_frames=4, image_size=32, seed=1000)  # val seed = seed + 1000
    np.testing.assert_array_equal(store.array("label"), [expected.label(v) for v in store.array("video")])
    assert main(["--config", "tiny", "--out_dir", str(tmp_path / "x"), "--data.source", "shot_shapes",
                 "--data.num_shots", "9"]) == 2


def test_study_refuses_an_unknown_task(capsys: pytest.CaptureFixture[str]) -> None:
    from scale_video.study import main as study_main

    assert study_main(["--task", "nope", "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert "task" in err and "motion, shots, fashion, fashion_motion" in err
