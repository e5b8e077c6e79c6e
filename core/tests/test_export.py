"""Safe weights: safetensors round trip, shared tensors, metadata, weights_only checkpoint loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from sparse_core.export import load_checkpoint_file, load_weights, read_metadata, save_weights


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
