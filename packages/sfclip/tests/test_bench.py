"""The SF-CLIP bench row (``nox -s bench``) on a micro setting: its JSON, its ratios (from interleaved rounds)
and which teachers ran."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from sfclip import bench
from sfclip.config import SFCLIPConfig, TextConfig, VisionConfig


def _micro(small: bool):
    cfg = SFCLIPConfig(embed_dim=8, vision=VisionConfig(img_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2),
                       text=TextConfig(width=16, depth=1, num_heads=2, context_length=16))
    dino = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "patch_size": 8, "image_size": 16}
    xglm = {"d_model": 16, "num_layers": 1, "attention_heads": 2, "ffn_dim": 32}
    return cfg, dino, xglm, 8, 2


def test_bench_row_times_every_variant_and_runs_teachers_only_where_due(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "bench_config", _micro)
    result = bench.run(tmp_path, quick=True)
    saved = json.loads((tmp_path / "sfclip.json").read_text())
    per, timing = saved["per_variant"], saved["timing"]
    assert set(per) == {"clip", "subset", "full", "precomputed"}
    assert timing["pairs"] == 5 and timing["warmup"] == 2 and timing["base"] == "clip"  # micro asks 2: raised to 5
    times = timing["times_s"]
    for v, row in per.items():  # every variant in every round; the ratio within a round, then the median
        assert row["step_s"] == statistics.median(times[v]) > 0
        paired = [t / c for t, c in zip(times[v], times["clip"])]
        assert saved["ratio_vs_clip"][v] == pytest.approx(statistics.median(paired))
    assert "median of 5 interleaved rounds (clip, subset, full, precomputed)" in result.summary
    rows = {v: per[v]["teacher_rows_per_step"] for v in per}
    assert rows == {"clip": {"text": 0, "vision": 0}, "subset": {"text": 1, "vision": 1},  # 12.5 % of 8
                    "full": {"text": 8, "vision": 8}, "precomputed": {"text": 0, "vision": 0}}
    assert set(result.metrics) == {"subset_vs_clip", "full_vs_clip", "precomputed_vs_clip"}
    assert "thesis 1.20x" in result.summary and "2.28x" in result.summary


def test_bench_entry_point_is_declared() -> None:
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()  # no tomllib on Python 3.10
    bench_section = text.split('[project.entry-points."sparse_ssl.bench"]', 1)[1].split("\n[", 1)[0]
    assert 'sfclip = "sfclip.bench:run"' in bench_section
    scripts = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert 'sfclip-precompute = "sfclip.cli.precompute:main"' in scripts
