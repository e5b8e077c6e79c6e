"""Official RIVER checkpoints: the key map loads them with the official conditioning and reproduces the forward
pass of the official network (written out below from its code, with torch's own transformer layers)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from river_vp.flow.conditioning import condition_distances, sample_context_batch
from river_vp.flow.sampler import SamplerConfig, sample_next_frame
from river_vp.models.official import load_official_river, map_official_field_keys
from river_vp.models.uvit import VectorFieldRegressor
from sparse_core.data.errors import WeightsFileError

C, W, GRID = 4, 32, 4


class _Pos(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.row_embed, self.col_embed = nn.Embedding(50, W // 2), nn.Embedding(50, W // 2)


def _layer() -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(W, 8, 4 * W, 0.05, "gelu", norm_first=True, batch_first=True)


class OfficialField(nn.Module):
    """The official ``VectorFieldRegressor`` (reference=True, out_norm='ln') with its module names."""

    def __init__(self, depth: int = 2, mid: int = 1) -> None:
        super().__init__()
        self.position_encoding = _Pos()
        self.project_in = nn.Sequential(nn.Identity(), nn.Linear(3 * C, W))
        self.time_projection = nn.Sequential(nn.Linear(1, 256), nn.ReLU(), nn.Linear(256, W))
        self.in_blocks = nn.ModuleList([_layer() for _ in range(depth)])
        self.mid_blocks = nn.Sequential(*[_layer() for _ in range(mid)])
        self.out_blocks = nn.ModuleList([nn.ModuleList([nn.Linear(2 * W, W), _layer()]) for _ in range(depth)])
        self.project_out = nn.Sequential(nn.Linear(W, W), nn.GELU(), nn.LayerNorm(W), nn.Identity(),
                                         nn.Conv2d(W, C, 3, padding=1))
        for p in self.parameters():  # non-trivial norms and biases
            nn.init.normal_(p, std=0.3)

    def forward(self, z: Tensor, ref: Tensor, ctx: Tensor, dist: Tensor, t: Tensor) -> Tensor:
        b = z.shape[0]
        half = W // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
        args = 200 * t[:, None] * freqs[None]
        time_tok = torch.cat([torch.cos(args), torch.sin(args)], -1)[:, None]
        i, j = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
        pe = self.position_encoding
        pos = torch.cat([pe.col_embed(j), pe.row_embed(i)], -1).reshape(1, GRID * GRID, W)
        d = self.time_projection(torch.log(dist.float())[:, None])[:, None]
        x = self.project_in[1](torch.cat([z, ref, ctx], 1).flatten(2).transpose(1, 2)) + pos + d
        x = torch.cat([time_tok, x], 1)
        hs = []
        for blk in self.in_blocks:
            x = blk(x)
            hs.append(x)
        x = self.mid_blocks(x)
        for k, (skip, blk) in enumerate(self.out_blocks):
            x = blk(skip(torch.cat([hs[-k - 1], x], -1)))
        po = self.project_out
        x = po[2](po[1](po[0](x[:, 1:])))
        return po[4](x.transpose(1, 2).reshape(b, W, GRID, GRID))


@pytest.fixture
def official_file(tmp_path) -> tuple[OfficialField, str]:
    ref = OfficialField().eval()
    state = {f"module.vector_field_regressor.{k}": v for k, v in ref.state_dict().items()}
    state["module.ae.encoder.conv_in.weight"] = torch.zeros(1)  # the rest of a Model checkpoint
    path = tmp_path / "river_official.pth"
    torch.save({"model": state, "step": 3}, path)
    return ref, str(path)


def test_official_checkpoint_loads_with_the_official_conditioning(official_file) -> None:
    ref, path = official_file
    model, spec, sigma = load_official_river(path, state_size=GRID)
    assert spec.form == "official" and spec.mode == "river" and sigma == 1e-7
    assert model.cfg.layout == "official" and (model.cfg.depth_in, model.cfg.depth_mid) == (2, 1)
    # the distances the sampler gives for target tau = 6: reference 5, context c -> (tau - 1) - c
    tau, b = 6, 16
    idx, dists = sample_context_batch(tau, spec, b, torch.Generator().manual_seed(0))
    torch.testing.assert_close(dists[:, 1], 5 - idx[:, 1])
    emb = model.distance_embedding(dists)
    torch.testing.assert_close(emb, ref.time_projection(torch.log((5 - idx[:, 1]).float())[:, None]))
    # the whole forward pass equals the official network's
    z, conds, t = torch.randn(b, C, GRID, GRID), torch.randn(b, 2, C, GRID, GRID), torch.rand(b)
    with torch.no_grad():
        torch.testing.assert_close(model(z, t, conds, dists), ref(z, conds[:, 0], conds[:, 1], dists[:, 1], t),
                                   rtol=1e-4, atol=1e-4)


def test_sampling_an_official_model_feeds_it_the_official_distances(official_file) -> None:
    ref, path = official_file
    model, spec, sigma = load_official_river(path, state_size=GRID)
    frames = torch.randn(8, 5, C, GRID, GRID)
    seen: list[Tensor] = []

    def field(z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        # the context fed is frame (tau - 1) - d of every sample: recover it from the latents
        for row in range(z.shape[0]):
            torch.testing.assert_close(conds[row, 1], frames[row, 3 - int(dists[row, 1])])
        seen.append(dists[:, 1].clone())
        return model(z, t, conds, dists)

    sample_next_frame(field, frames, 4, spec, SamplerConfig(steps=4, sigma_min=sigma), torch.Generator().manual_seed(1))
    assert len(seen) == 4 and all(((d >= 1) & (d <= 3)).all() for d in seen)
    assert torch.cat(seen).unique().numel() > 1
    assert (condition_distances(4, torch.tensor([[3, 0]]), spec) == torch.tensor([[1, 3]])).all()


def test_the_package_layout_is_unchanged_by_default(field_cfg) -> None:
    model = VectorFieldRegressor(field_cfg())
    assert model.cfg.layout == "uvit" and not hasattr(model, "project_in")
    with pytest.raises(ValueError, match="official"):
        model.distance_embedding(torch.ones(2, 2, dtype=torch.long))


def test_files_that_are_not_official_fields_are_refused(tmp_path, official_file) -> None:
    ref, _ = official_file
    bad = tmp_path / "other.pth"
    torch.save({"model": {"encoder.conv_in.weight": torch.zeros(1)}}, bad)
    with pytest.raises(WeightsFileError, match="vector_field_regressor"):
        load_official_river(bad, state_size=GRID)
    state = {f"vector_field_regressor.{k}": v for k, v in ref.state_dict().items()}
    state["vector_field_regressor.project_in.1.weight"] = torch.zeros(W, 2 * C)
    with pytest.raises(WeightsFileError, match="without reference"):
        load_official_river(_save(tmp_path, state), state_size=GRID)
    assert "pos_embed" in map_official_field_keys({f"vector_field_regressor.{k}": v
                                                   for k, v in ref.state_dict().items()}, GRID)
    with pytest.raises(WeightsFileError, match="does not fit"):
        partial = {f"vector_field_regressor.{k}": v for k, v in ref.state_dict().items() if k != "project_out.4.bias"}
        load_official_river(_save(tmp_path, partial), state_size=GRID)


def _save(tmp_path, state: dict[str, Tensor]) -> str:
    path = tmp_path / "f.pth"
    torch.save({"model": state}, path)
    return str(path)
