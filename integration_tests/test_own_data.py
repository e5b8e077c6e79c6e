"""The commands of core's README "Your own data" page, run on small folders this test builds: a flat folder of
.avi files (class folders of them where labels are needed), class folders of PNGs, and image + multi-line .txt
caption pairs. Each command is the page's, plus flags that make it a few seconds long."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparse_core.data.video import MotionShapes
from sparse_core.testing import call_main
from sparse_core.testing.badinputs import encode_video

FAST = ["--train.max_steps", "2", "--train.progress", "false", "--train.resume", "none"]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``avi/`` (flat, 4 videos), ``avi_classes/<a|b>/`` (2 each), ``png/<a|b>/`` (20 each), ``pairs/`` (8)."""
    base = tmp_path_factory.mktemp("own")
    shapes = MotionShapes(8, num_frames=32, image_size=32, seed=0)
    for i in range(4):
        (base / "avi").mkdir(exist_ok=True)
        encode_video(base / "avi" / f"clip{i}.avi", shapes.video(i))
        cls = base / "avi_classes" / "ab"[i % 2]
        cls.mkdir(parents=True, exist_ok=True)
        encode_video(cls / f"clip{i}.avi", shapes.video(4 + i))
    rng = np.random.default_rng(0)
    for c in "ab":
        (base / "png" / c).mkdir(parents=True)
        for i in range(20):
            img = np.full((32, 32, 3), 40 if c == "a" else 200, np.uint8) + rng.integers(0, 40, (32, 32, 3), np.uint8)
            Image.fromarray(img).save(base / "png" / c / f"{i}.png")
    (base / "pairs").mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(base / "pairs" / f"img{i}.png")
        (base / "pairs" / f"img{i}.txt").write_text(f"a drawing of item {i}\nitem {i} in colour\n")
    return base


def _ok(main, argv: list[str]) -> None:
    run = call_main(main, argv)
    assert run.code == 0 and "Traceback" not in run.err, run.err[-1500:]


def test_dilemma_train_on_class_folders_of_pngs(own: Path, tmp_path: Path) -> None:
    from dilemma_ssl.cli import train

    _ok(train.main, ["--config", "tiny", "--data.name", "imagefolder", "--data.root", str(own / "png"),
                     "--data.eval_root", str(own / "png"), "--eval.segmentation", "false", "--train.batch_size", "8",
                     "--train.out_dir", str(tmp_path / "run"), *FAST])
    assert list((tmp_path / "run").glob("*.safetensors"))


def test_scale_extract_on_a_flat_folder_and_class_folders_of_avi(own: Path, tmp_path: Path) -> None:
    from scale_video.cli import extract
    from sparse_core.features import FeatureStore

    _ok(extract.main, ["--config", "tiny", "--data.source", "folder", "--data.root", str(own / "avi"),
                       "--data.val_root", str(own / "avi_classes"), "--out_dir", str(tmp_path / "feat")])
    assert len(FeatureStore(tmp_path / "feat" / "train")) > 0
    assert FeatureStore(tmp_path / "feat" / "val_eval").meta["classes"] == ["a", "b"]


def test_river_train_ae_and_encode_on_a_flat_folder_of_avi(own: Path, tmp_path: Path) -> None:
    from river_vp.cli import encode, train_ae

    data = ["--data.source", str(own / "avi"), "--data.image_size", "16"]
    _ok(train_ae.main, ["--config", "tiny", *data, "--model.ch", "16", "--model.resolution", "16",
                        "--train.batch_size", "4", "--train.out_dir", str(tmp_path / "ae"), *FAST])
    _ok(encode.main, ["--config", "tiny", *data, "--data.num_frames", "8", "--autoencoder", str(tmp_path / "ae"),
                      "--out", str(tmp_path / "lat")])
    assert (tmp_path / "lat" / "index.json").is_file()


def test_vidrop_compress_and_train_on_a_flat_folder_of_avi(own: Path, tmp_path: Path) -> None:
    from vidrop.cli import compress, train

    _ok(compress.main, ["fit", "--videos", str(own / "avi"), "--out", str(tmp_path / "cb.npz"), "--clusters", "8",
                        "--patch_size", "8", "--patches_per_video", "40", "--niter", "2"])
    _ok(compress.main, ["encode", "--codebook", str(tmp_path / "cb.npz"), "--src", str(own / "avi"),
                        "--dst", str(tmp_path / "codes")])
    assert len(list((tmp_path / "codes").rglob("*.npy"))) == 4
    _ok(train.main, ["--config", "tiny", "--data.source", "video", "--data.root", str(own / "avi"),
                     "--train.batch_size", "2", "--train.out_dir", str(tmp_path / "run"), *FAST])
    assert (tmp_path / "run" / "teacher_backbone.safetensors").is_file()


def test_sfclip_train_on_image_and_multi_line_caption_pairs(own: Path, tmp_path: Path) -> None:
    from sfclip.cli import train

    _ok(train.main, ["--config", "tiny", "--teacher.text", "bert_tiny_random", "--teacher.vision",
                     "dinov2_tiny_random", "--teacher.vision_size", "48", "--data.source", "folder", "--data.root",
                     str(own / "pairs"), "--train.batch_size", "4", "--train.out_dir", str(tmp_path / "run"), *FAST])
    assert (tmp_path / "run" / "sfclip_student.safetensors").is_file()
