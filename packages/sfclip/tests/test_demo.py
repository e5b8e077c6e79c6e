"""The SF-CLIP demo stage and study: typed headline against plain CLIP, the study's common shape."""

from __future__ import annotations

from pathlib import Path

from sfclip import demo, study
from sparse_core.suite import Headline
from sparse_core.testing import assert_study_has_common_shape

RANDOM_TEACHERS = ["--teacher.text", "bert_tiny_random", "--teacher.vision", "[dinov2_tiny_random]",
                   "--teacher.vision_size", "48", "--data.num_pairs", "48"]


def test_demo_trains_both_and_reports_sfclip_against_clip(tmp_path: Path) -> None:
    result = demo.run(tmp_path, steps=2, eval_pairs=40, overrides=RANDOM_TEACHERS, real=False)
    h = result.headline
    assert isinstance(h, Headline) and h == demo.demo_headline(result.metrics)
    assert h.trained == result.metrics["zeroshot_top1_sfclip"]
    assert h.baselines == {"CLIP, equal steps": result.metrics["zeroshot_top1_clip"]}
    assert h.references["random init"] == result.metrics["zeroshot_top1_random"]
    assert result.metrics["real_captions"] == 0.0 and "procedural" in h.metric  # the fallback says so
    rows = result.details["rows"]
    assert rows["SF-CLIP"]["steps"] == rows["CLIP"]["steps"] == 2
    assert all(Path(p).is_file() for p in result.outputs)
    clip_metrics = (tmp_path / "clip" / "metrics.jsonl").read_text()
    assert '"vd"' not in clip_metrics and '"td"' not in clip_metrics  # plain CLIP: no distillation at all
    assert '"vd"' in (tmp_path / "sfclip" / "metrics.jsonl").read_text()


def test_study_has_the_common_shape() -> None:
    assert_study_has_common_shape(study)


def test_the_headline_names_the_real_caption_setting() -> None:
    h = demo.demo_headline({"zeroshot_top1_sfclip": 20.0, "zeroshot_top1_clip": 15.0, "zeroshot_top1_random": 9.0,
                            "real_captions": 1.0})
    assert "Fashion-MNIST" in h.metric and h.references["chance"] == 10.0 and h.margin() == 5.0


def test_study_reads_each_claim_from_the_seed_rows() -> None:
    def row(method: str, v: float) -> dict[str, object]:
        return {"method": method, "budget": "equal steps", **{k: v for k in study.READ_METRICS}}

    per_seed = [[row("SF-CLIP", 3.0), row("CLIP", 1.0)], [row("SF-CLIP", 1.0), row("CLIP", 2.0)]]
    lines = study.claim_readings(per_seed)
    assert len(lines) == 1 and "SF-CLIP > CLIP" in lines[0]  # no ablation rows: one claim only
    assert "clipart T->I R@5 +0.50 (1/2 seeds higher)" in lines[0]
