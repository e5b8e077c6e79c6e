"""Safe weights: safetensors round trip, shared tensors, metadata, weights_only checkpoint loading, the one
weight reader over every layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from sparse_core.export import (
    LoadResult,
    extract_state_dict,
    load_checkpoint_file,
    load_weights,
    read_metadata,
    read_state_dict,
    save_weights,
)


class Tied(nn.Module):
    """Embedding tied to the output layer, plus a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.mid = nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6))
        self.out = nn.Linear(6, 11, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.mid(self.emb(x)))


def test_round_trip_with_shared_tensors_and_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = Tied()
    src.train()
    src(torch.randint(0, 11, (8,)))  # update BN running stats (buffers)
    path = save_weights(src, tmp_path / "w" / "model.safetensors", metadata={"arch": "tied", "epoch": "3"})
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    assert read_metadata(path) == {"format": "pt", "arch": "tied", "epoch": "3"}
    dst = Tied()
    res = load_weights(dst, path)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (k, a), (k2, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    assert dst.out.weight is dst.emb.weight  # tying kept by load_state_dict
    x = torch.randint(0, 11, (5,))
    src.eval(), dst.eval()
    assert torch.equal(src(x), dst(x))


def test_non_contiguous_state_dict_and_bad_metadata(tmp_path: Path) -> None:
    base = torch.arange(24.0).reshape(4, 6)
    sd = {"t": base.T, "view": base[1:3], "same": base}
    save_weights(sd, tmp_path / "a.safetensors")
    back = load_checkpoint_file(tmp_path / "a.safetensors")
    assert all(torch.equal(back[k], v) for k, v in sd.items())
    with pytest.raises(TypeError, match="metadata must map str to str"):
        save_weights(sd, tmp_path / "b.safetensors", metadata={"epoch": 3})  # type: ignore[dict-item]


def test_partial_load_reports_missing_and_unexpected(tmp_path: Path) -> None:
    src = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    save_weights(src, tmp_path / "s.safetensors")
    dst = nn.Sequential(nn.Linear(3, 4))
    dst.add_module("head", nn.Linear(4, 2))
    res = load_weights(dst, tmp_path / "s.safetensors", strict=False)
    assert sorted(res.missing_keys) == ["head.bias", "head.weight"]
    assert sorted(res.unexpected_keys) == ["1.bias", "1.weight"]
    assert torch.equal(dst[0].weight, src[0].weight)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_weights(dst, tmp_path / "s.safetensors", strict=True)


class Evil:
    """Unpickling this would run code; weights_only loading must refuse it."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("pwned",))


class Config:
    """A plain class (as Lightning pickles hyper-parameter objects): needs a full unpickle."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def test_torch_checkpoints_loaded_weights_only(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    torch.save({"model": model.state_dict(), "step": 7}, tmp_path / "ckpt.pt")
    assert load_checkpoint_file(tmp_path / "ckpt.pt")["step"] == 7
    dst = nn.Linear(2, 2)
    load_weights(dst, tmp_path / "ckpt.pt")  # {"model": ...} unwrapped
    assert torch.equal(dst.weight, model.weight)
    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        load_checkpoint_file(tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="unknown checkpoint suffix"):
        (tmp_path / "w.npz").write_bytes(b"x")
        load_checkpoint_file(tmp_path / "w.npz")
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "none.pt")


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_read_state_dict_of_every_layout(tmp_path: Path) -> None:
    from sparse_core.engine import save_checkpoint

    net = _net()
    sd = net.state_dict()
    # exported backbone
    save_weights(net, tmp_path / "backbone.safetensors")
    assert _equal(read_state_dict(tmp_path / "backbone.safetensors"), sd)
    # engine checkpoint: the task holds the network under "student.", the optimizer state is ignored
    task = {**{f"student.{k}": v for k, v in sd.items()}, "head.weight": torch.ones(1)}
    ckpt = save_checkpoint({"task": task, "optimizer": {"state": {}}, "step": 5}, tmp_path / "ckpts", 5)
    assert _equal(read_state_dict(ckpt, select="student."), sd)
    assert set(read_state_dict(ckpt)) == set(task)
    # DDP + torch.compile wrappers inside a Lightning-style container, extra entries dropped
    wrapped = {f"module._orig_mod.{k}": v for k, v in sd.items()}
    torch.save({"state_dict": wrapped, "global_step": 7, "hparams": {"lr": 0.1}}, tmp_path / "last.ckpt")
    assert _equal(read_state_dict(tmp_path / "last.ckpt"), sd)
    assert set(read_state_dict(tmp_path / "last.ckpt", strip=())) == set(wrapped)
    # a suffix torch does not use (V-JEPA's .pth.tar) and a safetensors file without its suffix
    torch.save({"target_encoder": sd, "epoch": 3}, tmp_path / "vjepa.pth.tar")
    assert _equal(read_state_dict(tmp_path / "vjepa.pth.tar", unwrap=("target_encoder",)), sd)
    (tmp_path / "weights.data").write_bytes((tmp_path / "backbone.safetensors").read_bytes())
    assert _equal(read_state_dict(tmp_path / "weights.data"), sd)
    # Hugging Face folder: model.safetensors preferred over pytorch_model.bin
    hf = tmp_path / "hf"
    hf.mkdir()
    torch.save({k: torch.zeros_like(v) for k, v in sd.items()}, hf / "pytorch_model.bin")
    assert all(float(v.abs().sum()) == 0 for v in read_state_dict(hf).values())
    save_weights(sd, hf / "model.safetensors")
    assert _equal(read_state_dict(hf), sd)
    # load_weights goes through the same reader: an engine checkpoint with a prefix
    dst = _net()
    for p in dst.parameters():
        p.data.zero_()
    assert load_weights(dst, ckpt, strict=True, prefix="student.") == LoadResult([], [])
    assert _equal(dst.state_dict(), sd)


def test_read_state_dict_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="none.pt"):
        read_state_dict(tmp_path / "none.pt")
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(FileNotFoundError, match="empty_folder.*model.safetensors"):
        read_state_dict(tmp_path / "empty_folder")
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ValueError, match="notes.txt: neither a safetensors file nor a torch checkpoint"):
        read_state_dict(tmp_path / "notes.txt")
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="broken.pt is not a readable torch checkpoint"):
        read_state_dict(tmp_path / "broken.pt")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10" + b"\x00" * 7 + b"{garbage")
    with pytest.raises(ValueError, match="broken.safetensors is not a readable safetensors file"):
        read_state_dict(tmp_path / "broken.safetensors")
    torch.save({"step": 3}, tmp_path / "no_tensors.pt")
    with pytest.raises(KeyError, match="no_tensors.pt holds no tensors"):
        read_state_dict(tmp_path / "no_tensors.pt")
    save_weights({"a.w": torch.ones(2)}, tmp_path / "a.safetensors")
    with pytest.raises(KeyError, match="a.safetensors holds no 'b.\\*' weights"):
        read_state_dict(tmp_path / "a.safetensors", select="b.")


def test_trust_pickle_is_opt_in(tmp_path: Path) -> None:
    torch.save({"state_dict": {"w": torch.ones(2)}, "cfg": Config(3)}, tmp_path / "lightning.ckpt")
    with pytest.raises(RuntimeError, match="lightning.ckpt cannot be read with weights_only=True"):
        read_state_dict(tmp_path / "lightning.ckpt")
    assert torch.equal(read_state_dict(tmp_path / "lightning.ckpt", trust_pickle=True)["w"], torch.ones(2))


def test_extract_state_dict_from_a_loaded_dict() -> None:
    sd = {"module.backbone.w": torch.ones(1), "module.backbone.b": torch.zeros(1)}
    got = extract_state_dict({"encoder": sd, "epoch": 1}, unwrap=("encoder",), strip=("module.", "backbone."))
    assert set(got) == {"w", "b"}
    assert set(extract_state_dict(sd, strip=("module.",), select="backbone.")) == {"w", "b"}
