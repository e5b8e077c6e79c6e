"""``sfclip-precompute``: teacher features written once give the online loss; foreign stores are refused;
teachers never run on the precomputed path; a killed run resumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from sfclip_test_utils import FAST_ARGV, tiny_config, write_pair_folder

from sfclip.cli.precompute import main as precompute_main
from sfclip.cli.train import main as train_main
from sfclip.data import build_dataset
from sfclip.task import SFCLIPTask
from sfclip.teacher_store import TeacherFeatures, precompute
from sfclip.teachers import TextTeacher, VisionTeacher, build_teachers
from sparse_core.config import ConfigError
from sparse_core.data.collate import collate_skip_none
from sparse_core.engine.seeding import seeded
from sparse_core.features import FeatureStore, FeatureStoreWriter
from sparse_core.testing import assert_cli_refuses, torch_threads


def _cfg(store: Path, **distill: float):
    # DINOv2 (grid 6x6) + SAM (grid 3x3, 16-d), both unlike the student's 4x4, and a causal XGLM text teacher;
    # text masking on
    cfg = tiny_config(("dinov2_tiny_random", "sam_tiny_random"), image_ratio=0.25, text_ratio=0.25, **distill)
    cfg.teacher.text = "xglm_tiny_random"
    cfg.data.num_pairs = 20
    cfg.distill.precomputed = str(store)
    cfg.precompute.dtype = "float32"
    cfg.precompute.shard_size = 8
    cfg.precompute.batch_size = 3
    return cfg


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts of every teacher forward call (vision and text)."""
    counts = {"vision": 0, "text": 0}
    vision_forward, text_forward = VisionTeacher.forward, TextTeacher.forward

    def count_vision(self, *a, **k):
        counts["vision"] += 1
        return vision_forward(self, *a, **k)

    def count_text(self, *a, **k):
        counts["text"] += 1
        return text_forward(self, *a, **k)

    monkeypatch.setattr(VisionTeacher, "forward", count_vision)
    monkeypatch.setattr(TextTeacher, "forward", count_text)
    return counts


def _batch(cfg, rows: list[int]) -> dict:
    data = build_dataset(cfg)
    return collate_skip_none([data[i] for i in rows])


@pytest.mark.parametrize("image_mask_ratio", [0.0, 0.5])
def test_precomputed_features_give_the_online_loss_and_no_teacher_runs(
        tmp_path: Path, calls: dict[str, int], image_mask_ratio: float) -> None:
    cfg = _cfg(tmp_path / "feat", image_mask_ratio=image_mask_ratio)
    summary = precompute(cfg)
    assert summary["records"] == 20 and summary["shards_written"] == 3 and summary["skipped"] == 0
    online_cfg = _cfg(tmp_path / "feat", image_mask_ratio=image_mask_ratio)
    online_cfg.distill.precomputed = ""
    with seeded(online_cfg.train.seed):  # as sfclip-train builds it: the same random teachers
        online = SFCLIPTask(online_cfg)
    online.eval()
    batch = _batch(cfg, [13, 2, 7, 19, 0, 11, 5, 16])  # indices across all three shards, out of order
    want = online.training_step(batch, step=3)
    seen = {k: t.rows_seen for k, t in online.vision_teachers.items()}
    assert seen == {"dinov2_tiny_random": 2, "sam_tiny_random": 2} and online.text_teacher.rows_seen == 2
    calls.update(vision=0, text=0)
    with seeded(0):
        cached = SFCLIPTask(cfg)
    cached.load_state_dict(online.state_dict())  # same student and heads; no teacher state either side
    cached.eval()
    got = cached.training_step(batch, step=3)
    assert calls == {"vision": 0, "text": 0} and len(cached.vision_teachers) == 0
    assert set(cached.vision_distill) == set(online.vision_distill)
    for key in ("clip", "vd", "td", "loss"):
        torch.testing.assert_close(got[key], want[key], atol=1e-6, rtol=1e-6)


def test_store_records_are_the_teacher_features_of_each_index(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path / "feat")
    precompute(cfg)
    feats = TeacherFeatures(tmp_path / "feat", cfg)
    assert feats.grids == {"dinov2_tiny_random": (6, 6), "sam_tiny_random": (3, 3)}
    assert feats.dims == {"dinov2_tiny_random": 32, "sam_tiny_random": 16} and feats.text_dim == 32
    data = build_dataset(cfg)
    with seeded(cfg.train.seed):  # the teachers precompute built
        text, vision = build_teachers(cfg)
    image = data[9]["image"][None]
    torch.testing.assert_close(feats.vision("sam_tiny_random", torch.tensor([9]), torch.device("cpu")),
                               vision["sam_tiny_random"](image))
    enc = text.tokenize([data[9]["caption"]], cfg.text.context_length)
    torch.testing.assert_close(feats.text(torch.tensor([9]), enc["input_ids"].shape[1], torch.device("cpu")),
                               text(**enc))


@pytest.mark.parametrize(("override", "key"), [
    (["--teacher.vision", "sam_tiny_random"], "teacher.vision"),
    (["--teacher.vision_size", "64"], "teacher.vision_size"),
    (["--vision.img_size", "48"], "vision.img_size"),
    (["--teacher.text", "xglm_tiny_random"], "teacher.text"),
    (["--data.num_pairs", "40"], "data.num_pairs"),
])
def test_a_store_for_other_teachers_or_sizes_is_refused(tmp_path: Path, override: list[str], key: str,
                                                         capsys: pytest.CaptureFixture) -> None:
    store = str(tmp_path / "feat")
    assert precompute_main([*FAST_ARGV, "--out", store, "--precompute.dtype", "float32"]) == 0
    assert "pair (100%)" in capsys.readouterr().err  # progress on by default: a line with the ETA off a terminal
    msg = assert_cli_refuses(train_main, [*FAST_ARGV, "--distill.precomputed", store, *override,
                                          "--train.out_dir", str(tmp_path / "run")], "distill.precomputed", capsys)
    assert key in msg and "sfclip-precompute" in msg
    # writing into it with the other settings is refused as well
    msg = assert_cli_refuses(precompute_main, [*FAST_ARGV, "--distill.precomputed", store, *override],
                             "distill.precomputed", capsys)
    assert key in msg


def test_missing_or_incomplete_store_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [*FAST_ARGV, "--train.out_dir", str(tmp_path / "run")]
    assert_cli_refuses(train_main, [*argv, "--distill.precomputed", str(tmp_path / "none")], "distill.precomputed",
                       capsys)
    cfg = _cfg(tmp_path / "feat")
    precompute(cfg)
    writer = FeatureStoreWriter(tmp_path / "feat")
    writer.set_meta({**writer.meta, "complete": False})
    with pytest.raises(ConfigError, match="incomplete"):
        TeacherFeatures(tmp_path / "feat", cfg)


def test_a_killed_precompute_resumes_with_the_missing_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _cfg(tmp_path / "whole")
    precompute(whole)
    cfg = _cfg(tmp_path / "killed")
    real = FeatureStoreWriter.write_shard
    written: list[int] = []

    def dying(self, shard_id, *a, **k):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(shard_id)
        return real(self, shard_id, *a, **k)

    monkeypatch.setattr(FeatureStoreWriter, "write_shard", dying)
    with pytest.raises(KeyboardInterrupt):
        precompute(cfg)
    monkeypatch.setattr(FeatureStoreWriter, "write_shard", real)
    with pytest.raises(ConfigError, match="incomplete"):
        TeacherFeatures(tmp_path / "killed", cfg)
    assert precompute(cfg)["shards_written"] == 1
    a, b = FeatureStore(tmp_path / "whole"), FeatureStore(tmp_path / "killed")
    for name in a.fields:
        np.testing.assert_array_equal(a.array(name), b.array(name))


def test_cli_precompute_then_train_on_folder_pairs_skips_bad_ones(tmp_path: Path, calls: dict[str, int],
                                                                  capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    root = write_pair_folder(tmp_path / "pairs", 10)
    store, out = tmp_path / "feat", tmp_path / "run"
    argv = [*FAST_ARGV, "--data.source", "folder", "--data.root", str(root), "--distill.precomputed", str(store)]
    assert precompute_main([*argv, "--precompute.shard_size", "4"]) == 0
    index = json.loads((store / "index.json").read_text())
    assert [len(s["info"]["skipped"]) for s in index["shards"]] == [0, 0, 1]  # "bad" sorts after 0..9
    assert len(FeatureStore(store)) == 10
    calls.update(vision=0, text=0)
    assert train_main([*argv, "--train.batch_size", "8", "--train.max_steps", "3", "--train.out_dir", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"vd", "td"} <= rows[-1].keys() and rows[-1]["skipped_total"] == 1
    assert calls == {"vision": 0, "text": 0}
    Image.new("RGB", (40, 40)).save(root / "new.png")  # the folder changed since: refused
    (root / "new.txt").write_text("a new pair")
    capsys.readouterr()
    msg = assert_cli_refuses(train_main, [*argv, "--train.out_dir", str(tmp_path / "run2")], "distill.precomputed",
                             capsys)
    assert "features of 11 pairs, the data now has 12" in msg


def _precomputed_step(rank: int, world: int, store: str) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    cfg = _cfg(Path(store))
    with seeded(0):
        task = SFCLIPTask(cfg)
    data = build_dataset(cfg)
    rows = list(range(16))[rank * 16 // world:(rank + 1) * 16 // world]
    out = task.training_step(collate_skip_none([data[i] for i in rows]), step=6)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    return {k: out[k].item() for k in ("loss", "clip", "vd", "td")}, grads


def test_precomputed_step_on_two_gloo_processes_equals_one_process(tmp_path: Path) -> None:
    from sparse_core.testing import run_distributed

    precompute(_cfg(tmp_path / "feat"))
    single, grads = _precomputed_step(0, 1, str(tmp_path / "feat"))
    ranks = run_distributed(_precomputed_step, str(tmp_path / "feat"), world_size=2)
    for key, value in single.items():
        assert abs(sum(r[0][key] for r in ranks) / 2 - value) < 1e-4, key
    for name, g in grads.items():
        torch.testing.assert_close((ranks[0][1][name] + ranks[1][1][name]) / 2, g, atol=1e-5, rtol=1e-4)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread for the test: with several, a matmul's reduction order depends on the
    batch's shape, so a teacher's features computed at the precompute batch and at the training batch differ
    in the last bits, and Adam's normalised steps turn that into 1e-4 on near-zero-gradient weights."""
    with torch_threads(1):
        yield


@pytest.mark.usefixtures("one_thread")
def test_training_from_a_float32_store_follows_the_online_run(tmp_path: Path) -> None:
    """Same seed, same data: the precomputed run starts from the online run's weights and, with float32
    targets, ends at them (the teachers' features are the same numbers, read instead of computed)."""
    from safetensors.torch import load_file

    from sfclip.cli.train import WEIGHTS

    argv = [*FAST_ARGV, "--teacher.vision", "dinov2_tiny_random", "sam_tiny_random", "--teacher.text",
            "xglm_tiny_random", "--train.max_steps", "4"]
    store = str(tmp_path / "feat")
    assert precompute_main([*argv, "--distill.precomputed", store, "--precompute.dtype", "float32"]) == 0
    assert train_main([*argv, "--train.out_dir", str(tmp_path / "online")]) == 0
    assert train_main([*argv, "--train.out_dir", str(tmp_path / "cached"), "--distill.precomputed", store]) == 0
    online, cached = load_file(tmp_path / "online" / WEIGHTS), load_file(tmp_path / "cached" / WEIGHTS)
    assert online.keys() == cached.keys()
    for key in online:
        torch.testing.assert_close(cached[key], online[key], atol=1e-5, rtol=1e-4)
