"""SF-CLIP benchmark (``nox -s bench``; never a test): training step time relative to plain CLIP (Table 7.10).

One full optimizer step (tokenization, both towers, CLIP loss, distillation, backward, AdamW; data loading
excluded) is timed for

* ``clip``: plain CLIP on the SF-CLIP towers (no distillation, no teacher runs);
* ``subset``: SF-CLIP with distillation on 12.5 % of the batch (images and texts; thesis: 1.20x);
* ``full``: SF-CLIP with distillation on the whole batch (thesis: 2.28x);
* ``precomputed``: ``subset`` with the teacher targets read from a store written by ``sfclip-precompute``
  (sec. 7.2.2; target ~1.0x);

all four built first (sharing the teachers), then timed in interleaved rounds (clip, subset, full,
precomputed, clip, ...) after 2 warm-up rounds, torch's threads pinned (:func:`sparse_core.timing.interleave`),
the subsets re-drawn every step; a ratio to CLIP is the median over at least 5 rounds of the variant's time
over CLIP's in the same round, with the load average written beside it; peak memory (CUDA) comes from one
more untimed step per variant. The teachers are
random-initialised architectures of the thesis' sizes (the weights do not change the time): on a GPU
DINOv2-L/14 at 224 px and XGLM-564M (24 layers, width 1024) against ViT-B/16 + CLIP's 12-layer text tower;
``quick=True`` (or no GPU) scales everything down keeping the teacher / student compute ratios (vision
teacher ~4.5x, text teacher ~8x the student tower), on 64 px images, so it runs on a CPU in about a minute.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from transformers import Dinov2Config, Dinov2Model, XGLMConfig, XGLMModel

from sfclip.config import DataConfig, DistillConfig, SFCLIPConfig, TeacherConfig, TextConfig, VisionConfig
from sfclip.data import ShapePairs
from sfclip.task import SFCLIPTask
from sfclip.teacher_store import TeacherFeatures, precompute
from sfclip.teachers import Dinov2Teacher, TextTeacher, VisionTeacher, build_text_teacher
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing import MIN_PAIRS, Interleaved, cuda_allocated, interleave, peak_cuda_gib, training_step_fn

__all__ = ["run", "bench_config", "step_times", "THESIS"]

THESIS = {"subset": 1.20, "full": 2.28}
"""Thesis Table 7.10: training time relative to CLIP (ViT-B)."""
SUBSET = 0.125
"""Distillation ratio of the ``subset`` and ``precomputed`` rows (thesis Table 7.10: 12.5 %)."""
VARIANTS = ("clip", "subset", "full", "precomputed")


def bench_config(small: bool) -> tuple[SFCLIPConfig, dict[str, Any], dict[str, Any], int, int]:
    """Student config, DINOv2 and XGLM teacher config kwargs, batch and repeats of the small / GPU setting."""
    if small:
        cfg = SFCLIPConfig(embed_dim=64,
                           vision=VisionConfig(img_size=64, patch_size=8, embed_dim=96, depth=4, num_heads=3),
                           text=TextConfig(width=96, depth=4, num_heads=3, context_length=32))
        dino = {"hidden_size": 144, "num_hidden_layers": 8, "num_attention_heads": 4, "patch_size": 8,
                "image_size": 64}
        xglm = {"d_model": 192, "num_layers": 8, "attention_heads": 4, "ffn_dim": 768}
        return cfg, dino, xglm, 32, 5
    cfg = SFCLIPConfig()  # ViT-B/16 at 224 px, CLIP text shape (512 wide, 12 blocks, 77 tokens)
    dino = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "patch_size": 14,
            "image_size": 224}  # DINOv2-L/14
    xglm = {"d_model": 1024, "num_layers": 24, "attention_heads": 16, "ffn_dim": 4096}  # XGLM-564M
    return cfg, dino, xglm, 256, 10


def _teachers(cfg: SFCLIPConfig, dino: dict[str, Any], xglm: dict[str, Any]
              ) -> tuple[TextTeacher, dict[str, VisionTeacher]]:
    tok = build_text_teacher("minilm", with_model=False).tokenizer  # all-MiniLM's tokenizer (offline)
    text = TextTeacher(XGLMModel(XGLMConfig(vocab_size=tok.vocab_size, max_position_embeddings=128, **xglm)), tok)
    vision = Dinov2Teacher(Dinov2Model(Dinov2Config(mlp_ratio=4, **dino)), cfg.teacher.vision_size)
    return text, {"dinov2": vision}


def _batch(data: Dataset, n: int, device: torch.device) -> dict[str, Any]:
    samples = [data[i] for i in range(n)]
    return {"image": torch.stack([s["image"] for s in samples]).to(device),
            "caption": [s["caption"] for s in samples],
            "index": torch.tensor([s["index"] for s in samples], device=device)}


def step_times(small: bool, device: torch.device, store_dir: Path, warmup: int = 2
               ) -> tuple[dict[str, dict[str, Any]], Interleaved]:
    """Median step time (and peak CUDA memory) of every variant; ``store_dir`` receives the precomputed store.

    The variants share one set of (frozen) teachers; all are built first, then timed in interleaved rounds
    (at least :data:`~sparse_core.timing.MIN_PAIRS`), so a change in the load of a shared machine affects
    every variant of a round alike.

    Returns:
        ``{variant: {"step_s", "peak_gib", "image_ratio", "text_ratio", "teacher_rows_per_step"}}`` (the
        step time the median over rounds) and the rounds.
    """
    base, dino, xglm, batch_size, repeats = bench_config(small)
    size = int(dino["image_size"])
    torch.manual_seed(0)
    data = ShapePairs(batch_size, base.vision.img_size, seed=0)
    cfg0 = SFCLIPConfig(vision=base.vision)
    cfg0.teacher.vision_size = size
    text, vision = _teachers(cfg0, dino, xglm)
    text.to(device)
    vision["dinov2"].to(device)
    batch = _batch(data, batch_size, device)
    steps: dict[str, Callable[[], None]] = {}
    out: dict[str, dict[str, Any]] = {}
    seen = {v: [0, 0, 0] for v in VARIANTS}  # text rows, vision rows, calls (warm-up and timed)

    def counted(variant: str, one_step: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            before = (text.rows_seen, vision["dinov2"].rows_seen)
            one_step()
            seen[variant][0] += text.rows_seen - before[0]
            seen[variant][1] += vision["dinov2"].rows_seen - before[1]
            seen[variant][2] += 1

        return run

    for variant in VARIANTS:
        since = cuda_allocated(device)
        ratio = {"clip": 0.0, "subset": SUBSET, "full": 1.0, "precomputed": SUBSET}[variant]
        cfg = SFCLIPConfig(embed_dim=base.embed_dim, vision=base.vision, text=base.text,
                           teacher=TeacherConfig(vision=["dinov2"], vision_path="random DINOv2 config",
                                                 vision_size=size, text="hf", text_path="random XGLM config"),
                           distill=DistillConfig(image_ratio=ratio, text_ratio=ratio),
                           data=DataConfig(source="shapes", num_pairs=batch_size))
        features = None
        if variant == "precomputed":
            cfg.distill.precomputed = str(store_dir)
            cfg.precompute.device = str(device)
            cfg.precompute.batch_size = 64
            precompute(cfg, data, teachers=(text, vision))
            features = TeacherFeatures(store_dir, cfg)
        torch.manual_seed(0)
        task = SFCLIPTask(cfg, text_teacher=text, vision_teachers=vision, features=features).to(device)
        task.train()
        one_step = training_step_fn(task, batch, device)
        out[variant] = {"image_ratio": ratio, "text_ratio": ratio,
                        "peak_gib": peak_cuda_gib(one_step, device, since)}  # one untimed step, not counted
        steps[variant] = counted(variant, one_step)
    timing = interleave(steps, device, base="clip", pairs=max(repeats, MIN_PAIRS), warmup=warmup)
    for v in VARIANTS:
        out[v]["step_s"] = timing.median(v)
        out[v]["teacher_rows_per_step"] = {"text": seen[v][0] / seen[v][2], "vision": seen[v][1] / seen[v][2]}
    return out, timing


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Measure, print a table and write ``out_dir/sfclip.json``; headline: step time relative to CLIP."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    small = quick or device.type == "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        times, timing = step_times(small, device, Path(tmp) / "teacher-features")
    ratios = {v: timing.round_median(lambda r, v=v: r[v] / r["clip"]) for v in VARIANTS}  # within each round
    cfg, _, _, batch_size, _ = bench_config(small)
    model = ("tiny 64px (teachers ~4.5x / ~8x the towers)" if small
             else "ViT-B/16 224px + CLIP text; DINOv2-L/14 + XGLM-564M teachers (random init)")
    rows = [{"variant": v, "distilled": f"{times[v]['image_ratio']:.1%}", "step (s)": times[v]["step_s"],
             "vs CLIP": ratios[v], "thesis": THESIS.get(v, float("nan")),
             "peak mem (GiB)": float("nan") if times[v]["peak_gib"] is None else times[v]["peak_gib"]}
            for v in VARIANTS]
    table = markdown_table(rows, ["variant", "distilled", "step (s)", "vs CLIP", "thesis", "peak mem (GiB)"])
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    text = (f"SF-CLIP bench on {device_name} ({model}, batch {batch_size}, median of {timing.pairs}):\n{table}\n"
            f"step time vs CLIP: subset {ratios['subset']:.2f}x (thesis 1.20x, target <= 1.10x), full batch "
            f"{ratios['full']:.2f}x (thesis 2.28x), precomputed {ratios['precomputed']:.2f}x (target ~1.0x)\n"
            f"{timing.describe()}")
    print(text)
    res = {"device": device_name, "model": model, "batch": batch_size, "repeats": timing.pairs, "per_variant": times,
           "ratio_vs_clip": ratios, "timing": timing.to_dict(), "thesis": THESIS, "summary": text}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sfclip.json").write_text(json.dumps(res, indent=2))
    headline = {f"{v}_vs_clip": ratios[v] for v in ("subset", "full", "precomputed")}
    return StageResult(metrics=headline, summary=text, outputs=[str(out_dir / "sfclip.json")],
                       details={k: v for k, v in res.items() if k != "summary"})
