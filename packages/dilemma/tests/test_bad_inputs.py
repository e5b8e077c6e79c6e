"""dilemma-train on the bad-input image corpus: no traceback, each bad file skipped and counted; a root no run
can use is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from dilemma_ssl.cli import evaluate as eval_cli
from dilemma_ssl.cli import train as train_cli
from sparse_core.testing.badinputs import write_image_corpus, write_unusable_roots

TINY = ["--config", "tiny", "--train.max_steps", "2", "--train.batch_size", "4", "--model.depth", "1",
        "--model.embed_dim", "32", "--model.proj_hidden_dim", "32", "--eval.segmentation", "false",
        "--data.name", "imagefolder", "--data.augment", "light"]


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    return err


@pytest.mark.slow
def test_dilemma_train_on_the_image_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           caplog: pytest.LogCaptureFixture) -> None:
    items = write_image_corpus(tmp_path / "img", size=32, num_good=4, huge_side=2048)
    bad = [c for c in items if c.expect == "skipped"]
    # 6 steps x 4 images = every one of the 23 files read once at least
    code = train_cli.main([*TINY, "--data.root", str(tmp_path / "img"), "--data.eval_root", str(tmp_path / "img"),
                           "--train.out_dir", str(tmp_path / "run"),
                           "--train.max_steps", "6", "--eval.linear_epochs", "1"])
    err = _err(capsys)
    assert code == 0, err[-2000:]
    skips = [r.getMessage() for r in caplog.records if "distinct corrupt or unreadable" in r.getMessage()]
    assert skips and skips[0].startswith(f"{len(bad)} distinct"), skips
    read_bad = {r.getMessage().split("skipping unreadable sample ")[1].split(" (")[0] for r in caplog.records
                if "skipping unreadable sample" in r.getMessage()}
    assert read_bad == {str(c.path) for c in bad}  # the 16-bit, CMYK, 1x1, huge, ... images were all used


def test_dilemma_train_refuses_unusable_roots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roots = write_unusable_roots(tmp_path)
    (tmp_path / "eval").mkdir()  # an eval_root that exists: the training root is what is refused
    for name in ("missing", "empty", "file", "all_bad"):
        code = train_cli.main([*TINY, "--data.root", str(roots[name]), "--data.eval_root", str(tmp_path / "eval"),
                               "--train.out_dir", str(tmp_path / "run")])
        err = _err(capsys).strip()
        assert code == 2, (name, err[-2000:])
        assert len(err.splitlines()) == 1 and roots[name].name in err, err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_dilemma_eval_refuses_a_corrupt_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "torn.pt").write_bytes(b"PK\x03\x04 torn")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x04junkjunk")
    (tmp_path / "zero.safetensors").write_bytes(b"")
    for name in ("torn.pt", "junk.pt", "zero.safetensors"):
        assert eval_cli.main(["--config", "tiny", "--checkpoint", str(tmp_path / name)]) == 2, name
        err = _err(capsys).strip()
        assert len(err.splitlines()) == 1 and f"{name} is not a valid checkpoint" in err, err
        assert "weights_only" not in err
    for name in ("junk.pt", "zero.safetensors"):
        assert eval_cli.main(["--config", "tiny", "--weights", str(tmp_path / name)]) == 2, name
        err = _err(capsys).strip()
        assert len(err.splitlines()) == 1 and f"{name} is not a " in err and "weights_only" not in err, err
