"""river-train-ae / river-encode / river-train over the bad-input corpus and damaged caches and weights:
no traceback, every unusable video skipped and counted, one line and exit 2 for what no run can use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from river_vp.cli import encode, train, train_ae
from river_vp.data.latent_cache import LatentCache, LatentCacheWriter, LatentFlowDataset
from river_vp.data.video_files import load_video
from river_vp.flow.conditioning import ConditionSpec
from sparse_core.config import ConfigError
from sparse_core.testing.badinputs import write_unusable_roots, write_video_corpus

DATA = ["--data.image_size", "16", "--data.num_frames", "6"]
FLOW = ["--model.state_size", "4", "--model.width", "32", "--model.num_heads", "2", "--train.max_steps", "2",
        "--train.batch_size", "2"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("vid") / "videos"
    return root, write_video_corpus(root, size=24, frames=8, num_good=2, min_frames=2)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_encode_skips_unreadable_and_too_short_videos(corpus, tmp_path: Path, tiny_ae_dir: Path,
                                                      capsys) -> None:
    root, items = corpus
    lat = tmp_path / "lat"
    assert encode.main(["--config", "tiny", "--autoencoder", str(tiny_ae_dir), "--out", str(lat),
                        "--data.source", str(root), *DATA]) == 0
    assert f"video ({100}%)" in capsys.readouterr().err  # progress on by default (lines off a terminal)
    index = json.loads((lat / "index.json").read_text())
    # the 1-frame video is among the skipped (too short), and the 6x6 one (under data.min_side = 16 px: too small)
    skipped = {str(c.path) for c in items if c.expect == "skipped"}
    assert set(index["skipped"]) == skipped and index["num_skipped"] == len(skipped)
    assert {v["source"] for v in index["videos"]} == {str(c.path) for c in items if str(c.path) not in skipped}
    assert min(v["length"] for v in index["videos"]) >= 2
    # every stored video trains: river-train accepts the cache
    assert train.main(["--config", "tiny", "--latents", str(lat), "--train.out_dir", str(tmp_path / "flow"),
                       *FLOW]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_flow_dataset_skips_videos_too_short_for_the_mode(tmp_path: Path, caplog) -> None:
    writer = LatentCacheWriter(tmp_path)
    for name, t in (("one", 1), ("two", 2), ("long", 6)):
        writer.add(torch.randn(t, 2, 2, 2), name)
    writer.close()
    ds = LatentFlowDataset(LatentCache(tmp_path), ConditionSpec(mode="river"), examples_per_video=3)
    assert ds.num_skipped == 2 and len(ds) == 3  # only "long" (6 frames) has the 3 that 'river' needs
    assert any("one" in r.getMessage() and "skipping 2 of 3" in r.getMessage() for r in caplog.records)
    assert all(ds[i]["tau"] < 6 for i in range(len(ds)))
    ds1 = LatentFlowDataset(LatentCache(tmp_path), ConditionSpec(mode="river", min_target=1))
    assert ds1.num_skipped == 1 and len(ds1) == 2


@pytest.mark.parametrize("shard", ["../outside.npy", "/etc/passwd", "sub/../../x.npy"])
def test_index_shards_must_stay_inside_the_cache(tmp_path: Path, shard: str) -> None:
    writer = LatentCacheWriter(tmp_path / "cache")
    writer.add(torch.randn(4, 2, 2, 2), "v")
    index_path = writer.close()
    np.save(tmp_path / "outside.npy", np.zeros((4, 2, 2, 2), np.float16))
    index = json.loads(index_path.read_text())
    index["shards"] = [shard]
    index_path.write_text(json.dumps(index))
    with pytest.raises(ConfigError, match=r"index\.json: shard .* lies outside the cache folder"):
        LatentCache(tmp_path / "cache")


def test_load_video_decodes_only_the_kept_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import av

    items = write_video_corpus(tmp_path, size=16, frames=40, num_good=1)
    path = next(c.path for c in items if c.kind == "good")
    decoded = []
    real = av.container.InputContainer.decode

    def counting(self, *a, **k):  # type: ignore[no-untyped-def]
        for f in real(self, *a, **k):
            decoded.append(1)
            yield f

    monkeypatch.setattr(av.container.InputContainer, "decode", counting)
    monkeypatch.setitem(__import__("sys").modules, "decord", None)  # force the PyAV reader
    clip = load_video(path, 16, max_frames=4)
    assert clip.shape == (4, 3, 16, 16)
    assert len(decoded) <= 8  # not the 40 frames of the file


def test_bad_paths_are_one_line_exit_2(tmp_path: Path, tiny_ae_dir: Path, capsys) -> None:
    roots = write_unusable_roots(tmp_path, suffix=".mp4")
    for name in ("missing", "empty", "file", "all_bad"):
        assert encode.main(["--config", "tiny", "--autoencoder", str(tiny_ae_dir), "--out", str(tmp_path / "o"),
                            "--data.source", str(roots[name]), *DATA]) == 2, name
        _one_line(capsys)
        assert train_ae.main(["--config", "tiny", "--train.out_dir", str(tmp_path / "ae"), "--train.max_steps", "1",
                              "--data.source", str(roots[name]), *DATA]) == 2, name
        _one_line(capsys)
    good = (tiny_ae_dir / "vqgan.safetensors").read_bytes()
    for name, data in (("torn.safetensors", good[: len(good) // 2]), ("zero.safetensors", b"")):
        (tmp_path / name).write_bytes(data)
        assert encode.main(["--config", "tiny", "--autoencoder", str(tmp_path / name), "--out", str(tmp_path / "o"),
                            "--data.num_videos", "2", *DATA]) == 2
        err = _one_line(capsys)
        assert f"{name} is not a readable" in err and "weights_only" not in err
    assert encode.main(["--config", "tiny", "--autoencoder", str(tmp_path / "empty"), "--out", str(tmp_path / "o"),
                        *DATA]) == 2
    assert "vqgan.safetensors" in _one_line(capsys)


@pytest.mark.slow
def test_train_ae_on_the_video_corpus(corpus, tmp_path: Path, capsys) -> None:
    root, _items = corpus
    assert train_ae.main(["--config", "tiny", "--train.out_dir", str(tmp_path / "ae"), "--train.max_steps", "2",
                          "--train.batch_size", "4", "--model.ch", "16", "--model.resolution", "16",
                          "--data.source", str(root), *DATA]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_train_ae_refuses_a_folder_of_videos_smaller_than_min_side(tmp_path: Path, capsys) -> None:
    """4x4 videos would be upsampled into blur: under data.min_side (16 px) each is too small; none usable -> 2."""
    from sparse_core.testing.badinputs import encode_video

    rng = np.random.default_rng(0)
    (tmp_path / "small").mkdir()
    for i in range(3):
        encode_video(tmp_path / "small" / f"v{i}.mp4", rng.integers(0, 255, (8, 4, 4, 3), np.uint8))
    argv = ["--config", "tiny", "--train.out_dir", str(tmp_path / "ae"), "--train.max_steps", "1",
            "--data.source", str(tmp_path / "small"), "--data.image_size", "16"]
    assert train_ae.main(argv) == 2
    err = _one_line(capsys)
    assert "none of its 3 video(s) can be used: 3x too small (data.min_side=16)" in err and "small" in err, err
    assert not (tmp_path / "ae").exists() or not list((tmp_path / "ae").rglob("*.safetensors"))
    assert train_ae.main([*argv, "--data.min_side", "4", "--train.out_dir", str(tmp_path / "ae4")]) == 0
