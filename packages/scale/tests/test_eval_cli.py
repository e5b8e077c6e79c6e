"""``scale-eval`` on small feature stores: every probe runs, SCALE_ft starts from the trained predictor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scale_video.cli.evaluate import main as eval_main
from scale_video.cli.train import main as train_main
from scale_video.data import FeatureBank, synthetic_bank
from scale_video.probes import LOW_SHOT_PROBES, PROBES
from sparse_core.features import FeatureStoreWriter


def write_store(root: Path, bank: FeatureBank) -> Path:
    """``bank`` as a two-shard feature store with the fields scale-extract writes."""
    n, s, d = bank.feats.shape
    fields = {"feats": ((s, d), "float16"), "boxes": ((s, 6), "float32"), "label": ((), "int64"),
              "video": ((), "int64"), "pass": ((), "int64")}
    writer = FeatureStoreWriter(root, fields)
    half = n // 2
    for shard, rows in enumerate((slice(0, half), slice(half, n))):
        writer.write_shard(shard, {"feats": bank.feats[rows].numpy(), "boxes": bank.boxes[rows].numpy(),
                                   "label": bank.label[rows].numpy(), "video": bank.video[rows].numpy(),
                                   "pass": np.zeros(len(bank.label[rows]), dtype=np.int64)})
    return root


def test_store_roundtrip(tmp_path: Path) -> None:
    bank = synthetic_bank(10, num_clips=4, dim=6, seed=3)
    back = FeatureBank.from_store(write_store(tmp_path / "s", bank))
    assert back.feats.equal(bank.feats) and back.boxes.equal(bank.boxes) and back.label.equal(bank.label)


def test_train_then_eval_from_stores(tmp_path: Path) -> None:
    train_store = write_store(tmp_path / "train", synthetic_bank(48, num_clips=8, dim=16, seed=0))
    eval_train = write_store(tmp_path / "eval_train", synthetic_bank(40, num_clips=6, dim=16, seed=0))
    eval_test = write_store(tmp_path / "eval_test", synthetic_bank(24, num_clips=6, dim=16, seed=0))
    run = tmp_path / "run"
    assert train_main(["--config", "tiny", "--data.root", str(train_store), "--data.device", "cpu",
                       "--model.hidden_dim", "32", "--model.num_heads", "4", "--train.batch_size", "16",
                       "--train.max_steps", "10", "--train.out_dir", str(run), "--train.resume", "none"]) == 0
    out = tmp_path / "eval"
    assert eval_main(["--run", str(run), "--train_root", str(eval_train), "--test_root", str(eval_test),
                      "--out", str(out), "--device", "cpu", "--probe.linear_epochs", "5", "--probe.ft_epochs", "2",
                      "--probe.linear_lrs", "[0.1]", "--probe.low_shot_fraction", "0.5"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert set(res) == set(PROBES)
    for name in set(PROBES) - {"lowshot"}:
        assert 0.0 <= res[name] <= 100.0, name
    assert set(res["lowshot"]) == {"fraction", *LOW_SHOT_PROBES}  # the five rows of Table 4.7
    assert res["lowshot"]["fraction"] == 0.5 and all(0.0 <= res["lowshot"][k] <= 100.0 for k in LOW_SHOT_PROBES)
    assert res["knn"] > 100 / 4 + 20  # the synthetic classes are separable by their mean direction
    assert (out / "results.md").is_file()


def test_eval_on_unlabelled_stores_exits_2_naming_the_probes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    """A store extracted from a flat folder (labels -1) is refused before any probe (was an IndexError)."""
    labelled = synthetic_bank(12, num_clips=4, dim=8, seed=0)
    flat = FeatureBank(labelled.feats, labelled.boxes, labelled.label.clone().fill_(-1), labelled.video)
    train_root, test_root = write_store(tmp_path / "tr", flat), write_store(tmp_path / "te", labelled)
    assert eval_main(["--train_root", str(train_root), "--test_root", str(test_root), "--out", str(tmp_path / "o"),
                      "--device", "cpu", "--probe.probes", "[linear, knn]"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("scale-eval: train_root: 12 of 12 videos have no label") and "linear, knn need class" in err
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize("argv", [["--probe.probes", "[bogus]"], ["--train_root", "/nonexistent"], ["--bad", "1"]])
def test_eval_bad_config_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert eval_main(argv) == 2
    assert capsys.readouterr().err.startswith("scale-eval:")


def test_softmax_average_probe_single_view_is_core_linear_probe() -> None:
    import torch

    from scale_video.probes import ProbeConfig, softmax_average_probe
    from sparse_core.eval import linear_probe

    bank = synthetic_bank(40, num_clips=1, dim=8, seed=0)
    test = synthetic_bank(20, num_clips=1, dim=8, seed=0)
    cfg = ProbeConfig(linear_epochs=5, linear_lrs=[0.1])
    x, xt = bank.feats.float(), test.feats.float()
    ours = softmax_average_probe(x, bank.label, xt, test.label, cfg, 4)
    ref = linear_probe(x[:, 0], bank.label, xt[:, 0], test.label, lrs=[0.1], batch_sizes=(256,), epochs=5,
                       num_classes=4, seed=0)["test_top1"]
    assert ours == pytest.approx(ref)
    # two identical views average to the same prediction
    assert softmax_average_probe(x, bank.label, torch.cat([xt, xt], 1), test.label, cfg, 4) == pytest.approx(ours)


def test_scale_linear_input_is_the_frozen_clip_features_then_the_set_token() -> None:
    """SCALE_linear sees [x_i (+) SET] as the public SCALE code's LinearOnTop(append_h=False), not the
    predictor's per-clip outputs."""
    import torch

    from scale_video.probes import with_set_token

    feats, cls = torch.randn(3, 5, 8), torch.randn(3, 4)
    out = with_set_token(feats, cls)
    assert out.shape == (3, 5, 12)
    assert torch.equal(out[..., :8], feats)
    assert torch.equal(out[..., 8:], cls[:, None].expand(-1, 5, -1))


def test_knn_probe_centres_by_the_training_mean() -> None:
    """A common offset (e.g. the non-negative mean of post-activation CNN features) does not change k-NN:
    without centring, normalised vectors would all point along the offset."""
    import torch

    from scale_video.probes import ProbeConfig, knn_probe

    bank, test = synthetic_bank(80, num_clips=1, dim=16, seed=0), synthetic_bank(40, num_clips=1, dim=16, seed=1)
    x, xt = bank.feats.float()[:, 0], test.feats.float()[:, 0]
    cfg = ProbeConfig(knn_k=5)
    plain = knn_probe(x, bank.label, xt, test.label, cfg, 4)
    offset = torch.full((16,), 1000.0)
    assert knn_probe(x + offset, bank.label, xt + offset, test.label, cfg, 4) == pytest.approx(plain)
    assert plain > 25 + 10  # above chance: the classes are readable


def test_finetune_head_sees_each_views_frozen_feature_and_the_set_token() -> None:
    """SCALE_ft / transformer: with the SET token silenced, the classifier is a linear map of the views'
    mean frozen feature (logits averaged over views), as the public code's LinearOnTop under fine-tuning."""
    import torch

    from scale_video.model import PredictorConfig, SCALEPredictor
    from scale_video.probes import _SetClassifier

    pred = SCALEPredictor(8, PredictorConfig(hidden_dim=16, num_heads=2, head_dim=8)).eval()
    torch.nn.init.zeros_(pred.norm.weight)
    torch.nn.init.zeros_(pred.norm.bias)  # every predictor output, CLS included, is 0
    clf = _SetClassifier(pred, 3)
    feats, boxes = torch.randn(4, 5, 8), torch.rand(4, 5, 6)
    w, b = clf.head.weight[:, :8], clf.head.bias
    torch.testing.assert_close(clf(feats, boxes), feats.mean(1) @ w.t() + b)


def test_low_shot_probes_train_on_the_subset_only() -> None:
    """lowshot's nonlinear rows are the full-data probes run on the class-balanced subset's bank."""
    from scale_video.model import PredictorConfig, SCALEPredictor
    from scale_video.probes import ProbeConfig, run_probes
    from sparse_core.eval import low_shot_indices

    train, test = synthetic_bank(40, num_clips=4, dim=8, seed=0), synthetic_bank(16, num_clips=4, dim=8, seed=1)
    pred = SCALEPredictor(8, PredictorConfig(hidden_dim=16, num_heads=2, head_dim=8))
    cfg = ProbeConfig(probes=["lowshot"], low_shot_probes=["mlp", "scale_ft"], low_shot_fraction=0.25,
                      ft_epochs=2, ft_batch_size=4)
    low = run_probes(pred, train, test, cfg)["lowshot"]
    assert set(low) == {"fraction", "mlp", "scale_ft"}
    sub = train.select(low_shot_indices(train.label, fraction=0.25, seed=0))
    assert sub.label.bincount().tolist() == [3, 3, 3, 3]  # a quarter of each class of 10, rounded half up
    full = run_probes(pred, sub, test, ProbeConfig(probes=["mlp", "scale_ft"], ft_epochs=2, ft_batch_size=4))
    assert low["mlp"] == pytest.approx(full["mlp"]) and low["scale_ft"] == pytest.approx(full["scale_ft"])
    with pytest.raises(ValueError, match="low_shot_probes"):
        ProbeConfig(low_shot_probes=["knn"])
