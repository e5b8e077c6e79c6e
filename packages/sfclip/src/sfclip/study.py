"""Small study of SF-CLIP on real captions: SF-CLIP vs CLIP vs its teacher ablations, over seeds.

Not a test. Trains the ``tiny`` towers (32 px, 2 + 2 blocks of width 48, context 32 tokens) on the openclipart
train split (title + keyword tags of ~7.2 k clip-art images; Debian ``openclipart-svg`` + ``openclipart-png``)
and scores every run with :func:`sfclip.evaluation.real.evaluate_real`: zero-shot top-1 over Fashion-MNIST's
10 class names (SLIP's 7 prompts; test images no run saw, inverted to dark-on-white and as stored; chance
10 %), retrieval R@1/5 both ways on the held-out openclipart split (against the distinct captions) and
multilingual retrieval on rendered emoji named in 14 languages (PyPI ``emoji`` + Debian
``fonts-noto-color-emoji``). Rows per seed: random init, then each of ``--methods`` at equal steps, and
``CLIP, equal time`` (CLIP given as many steps as fit in SF-CLIP's training wall-clock) when ``--equal_time``.
Mean ± std over seeds::

    python -m sfclip.study --steps 400 --methods '[SF-CLIP, CLIP, "SF-CLIP, no text teacher"]' --seeds [0,1,2] \\
        --out runs/sfclip-study --doc packages/sfclip/docs/study.md     # docs/study.md: ~12 core-minutes

Each run's scores are cached in its folder (:func:`sparse_core.study_cache.cached_row`), so seeds can run as
separate processes into the same ``--out`` and a last call with every seed merges them.

Built on :func:`sparse_core.suite.study_main`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sfclip.demo import VARIANTS, random_init, run_variant, variant_config
from sfclip.evaluation.model import CLIPEncoder
from sfclip.evaluation.real import evaluate_real, load_real_sets
from sfclip.real import REAL_OVERRIDES, training_pairs
from sparse_core.figures import seed_bars
from sparse_core.report import markdown_table, seed_mean, seed_summary
from sparse_core.study_cache import cached_row
from sparse_core.suite import StageResult, StudyConfig, study_main
from sparse_core.validation import check_each, check_int

__all__ = ["SFCLIPStudyConfig", "main", "study", "COLUMNS"]

ALL_LANGUAGES = ("en", "es", "ja", "ko", "pt", "it", "fr", "de", "fa", "id", "zh", "ru", "tr", "ar")
COLUMNS = {"method": "method", "budget": "budget", "steps": "steps", "train_s": "train_s",
           "fashion_top1": "F-MNIST zero-shot top-1", "fashion_raw_top1": "F-MNIST top-1 (as stored)",
           "clipart_i2t_R@1": "clipart I->T R@1", "clipart_i2t_R@5": "I->T R@5",
           "clipart_t2i_R@1": "T->I R@1", "clipart_t2i_R@5": "T->I R@5",
           "emoji_en_mean_R": "emoji en mean R", "emoji_other_mean_R": "emoji 13 other languages mean R",
           "seeds": "seeds"}
"""Columns of the main table (``mean R``: the mean of R@1 and R@5 both ways)."""


@dataclass
class SFCLIPStudyConfig(StudyConfig):
    """python -m sfclip.study: tiny SF-CLIP vs CLIP and teacher ablations on real captions."""

    out: str = "runs/sfclip-study"
    """Output folder: study.md, study.json, the plot and one run folder per (seed, method)."""
    steps: int = 300
    """Training steps of the equal-steps rows (batch 32 of the ``tiny`` config)."""
    methods: list[str] = field(default_factory=lambda: list(VARIANTS)[:4])
    """Rows trained at equal steps, each a name of :data:`sfclip.demo.VARIANTS` (default: SF-CLIP, CLIP and the
    two teacher ablations)."""
    equal_time: bool = False
    """Also train CLIP for as many steps as fit in SF-CLIP's training wall-clock (needs SF-CLIP and CLIP)."""
    fashion_images: int = 1000
    """Fashion-MNIST test images of the zero-shot score."""
    clipart_pairs: int = 0
    """Held-out openclipart pairs scored (0: the whole test split, ~800)."""
    emoji: int = 500
    """Emoji scored per language (a seeded choice of the ~1.9 k without skin tones)."""

    def __post_init__(self) -> None:
        """Refuse unknown methods and non-positive sizes.

        Raises:
            ConfigError: the first bad field.
        """
        check_each("methods", self.methods, tuple(VARIANTS))
        for name in ("steps", "fashion_images", "emoji"):
            check_int(name, getattr(self, name), 1)
        check_int("clipart_pairs", self.clipart_pairs, 0)


def _score(sets: Any) -> Any:
    """The study's evaluation: every real score plus the mean over the 13 non-English emoji languages."""
    def evaluate(model: CLIPEncoder) -> dict[str, float]:
        r = evaluate_real(model, sets)
        other = [r[f"emoji_{lang}_mean_R"] for lang in sets.emoji_names if lang != "en"]
        return {**r, "emoji_other_mean_R": sum(other) / max(len(other), 1)}

    return evaluate


def _cache_key(cfg: SFCLIPStudyConfig, run: Any) -> dict[str, Any]:
    """What identifies a cached run: its training config and the study's evaluation sizes."""
    return {"run": asdict(run), "eval": [cfg.quick, cfg.fashion_images, cfg.clipart_pairs, cfg.emoji]}


def _one_seed(cfg: SFCLIPStudyConfig, seed: int, steps: int, evaluate: Any, pairs: Any) -> list[dict[str, Any]]:
    """The rows of one training seed."""
    out = Path(cfg.out) / f"seed{seed}"
    init_cfg = variant_config("SF-CLIP", out / "random", 1, seed, REAL_OVERRIDES)
    rows = [{"method": "random init", "budget": "-",
             **cached_row(out / "random", _cache_key(cfg, init_cfg), lambda: random_init(init_cfg, evaluate))}]

    def train(name: str, n: int, budget: str, folder: str) -> dict[str, Any]:
        cfg_run = variant_config(name, out / folder, n, seed, REAL_OVERRIDES)
        scored = cached_row(out / folder, _cache_key(cfg, cfg_run), lambda: run_variant(cfg_run, evaluate, pairs))
        row = {"method": name, "budget": budget, **scored}
        print({k: row[k] for k in COLUMNS if k in row}, flush=True)
        rows.append(row)
        return row

    done = {name: train(name, steps, "equal steps", name.lower().replace(", ", "_").replace(" ", "_").replace("-", ""))
            for name in cfg.methods}
    if cfg.equal_time and "SF-CLIP" in done and "CLIP" in done:
        n = max(1, round(steps * done["SF-CLIP"]["train_s"] / done["CLIP"]["train_s"]))
        train("CLIP", n, "equal time", "clip_time")
    return rows


READ_METRICS = {"fashion_top1": "F-MNIST zero-shot top-1", "clipart_i2t_R@1": "clipart I->T R@1",
                 "clipart_i2t_R@5": "clipart I->T R@5", "clipart_t2i_R@1": "clipart T->I R@1",
                 "clipart_t2i_R@5": "clipart T->I R@5", "emoji_other_mean_R": "emoji non-English mean R"}
"""The metrics each claim is read on."""


def _compare(per_seed: list[list[dict[str, Any]]], a: str, b: str) -> str:
    """``a`` minus ``b`` (equal steps) per metric: the mean difference and in how many seeds ``a`` is higher."""
    parts = []
    for key, name in READ_METRICS.items():
        diffs = []
        for rows in per_seed:
            ra = next(r for r in rows if r["method"] == a and r["budget"] == "equal steps")
            rb = next(r for r in rows if r["method"] == b and r["budget"] == "equal steps")
            diffs.append(ra[key] - rb[key])
        wins = sum(d > 0 for d in diffs)
        parts.append(f"{name} {sum(diffs) / len(diffs):+.2f} ({wins}/{len(diffs)} seeds higher)")
    return "; ".join(parts)


def claim_readings(per_seed: list[list[dict[str, Any]]]) -> list[str]:
    """One line per thesis claim the rows can test: the differences, and what they say."""
    methods = {r["method"] for r in per_seed[0]}
    claims = [("SF-CLIP", "CLIP", "SF-CLIP > CLIP at equal steps (Table 7.1)"),
              ("SF-CLIP", "SF-CLIP, no text teacher", "the text teacher helps (Table 7.8 row 2)"),
              ("SF-CLIP", "SF-CLIP, no image teacher", "the image teacher helps (Table 7.8 row 5)"),
              ("SF-CLIP, per-dimension mean", "SF-CLIP", "per-dimension mean vs the thesis' sum over D")]
    lines = []
    for a, b, claim in claims:
        if a in methods and b in methods:
            lines.append(f"- **{claim}**: {a} minus {b}: {_compare(per_seed, a, b)}.")
    return lines


def study(cfg: SFCLIPStudyConfig) -> StageResult:
    """Every seed's runs, the Markdown tables (mean ± std over seeds) and the plot."""
    t_start = time.perf_counter()
    torch.set_num_threads(1)
    steps = 10 if cfg.quick else cfg.steps
    n_f, n_c, n_e = (100, 100, 100) if cfg.quick else (cfg.fashion_images, cfg.clipart_pairs, cfg.emoji)
    base = variant_config("SF-CLIP", Path(cfg.out) / "base", 1, 0, REAL_OVERRIDES)
    size = base.vision.img_size
    pairs = training_pairs(size)
    sets = load_real_sets(size, n_f, n_c, n_e, ALL_LANGUAGES)
    evaluate = _score(sets)
    per_seed = [_one_seed(cfg, seed, steps, evaluate, pairs) for seed in cfg.seeds]
    merged = seed_summary(per_seed, key=["method", "budget"])
    table = markdown_table(merged, COLUMNS)
    lang_cols = {"method": "method", "budget": "budget",
                 **{f"emoji_{lang}_i2t_R@5": lang for lang in ALL_LANGUAGES}}
    lang_table = markdown_table(merged, lang_cols)
    png = seed_bars(Path(cfg.out) / "study.png", per_seed, [f"{r['method']}\n({r['budget']})" for r in per_seed[0]],
                    {"fashion_top1": "F-MNIST zero-shot top-1", "clipart_mean_R": "clipart mean R@1/5",
                     "emoji_other_mean_R": "emoji non-English mean R"},
                    f"tiny SF-CLIP vs CLIP on real captions ({len(per_seed)} seeds)", ylabel="%",
                    references={"zero-shot chance": 10.0}, figsize=(11, 3.8))
    doc_png = None
    if cfg.doc:
        doc_png = Path(cfg.doc).parent / "study.png"
        doc_png.parent.mkdir(parents=True, exist_ok=True)
        doc_png.write_bytes(png.read_bytes())
    sizes = "--quick true" if cfg.quick else f"--steps {steps}"
    quoted = [f'"{m}"' if "," in m else m for m in cfg.methods]
    methods = "" if cfg.methods == list(VARIANTS)[:4] else f" --methods '[{', '.join(quoted)}]'"
    cmd = (f"python -m sfclip.study {sizes}{methods}{' --equal_time true' if cfg.equal_time else ''} "
           f"--seeds [{','.join(map(str, cfg.seeds))}]")
    summary = (
        "# SF-CLIP on real captions: a small study\n\n"
        "Tiny towers (`--config tiny`: ViT 2 blocks width 48 on 32 px / patch 8, text transformer 2 blocks "
        f"width 48, context 32 tokens, joint width 32), batch {base.train.batch_size}, {steps} steps on the "
        f"openclipart train split ({len(pairs)} clip-art images captioned by their SVG title + keyword tags, "
        "e.g. 'PDA, tool, computer'), AdamW lr 1e-3. SF-CLIP distils EfficientNet-Lite0 (ImageNet) on "
        f"{base.distill.image_ratio:.0%} and all-MiniLM-L6-v2 on {base.distill.text_ratio:.1%} of each batch "
        "(eq. 7.2-7.3: squared L2 summed over the teacher width; text masking up to 25 %), with the projected "
        "MiniLM word embeddings as text input; CLIP has no teacher and learned word embeddings (MiniLM's "
        "tokenizer). Scores: zero-shot top-1 (%) over Fashion-MNIST's 10 class names with SLIP's 7 ImageNet "
        f"prompts on {len(sets.fashion_label)} test images (inverted to dark-on-white like clip art; 'as stored': "
        f"light on black; chance 10 %); retrieval R@k (%) on {len(sets.clipart_captions)} held-out openclipart "
        "pairs against the distinct captions (each relevant to every image it describes); the same on "
        f"{len(sets.emoji)} rendered emoji named in 14 languages ('mean R': mean of R@1 and R@5 both ways). "
        "MiniLM's tokenizer is English (BERT uncased WordPiece): names in other scripts become mostly [UNK], so "
        "the multilingual numbers measure sub-word overlap, not an inherited multilingual teacher (the "
        "thesis' XGLM is multilingual). train_s: the training loop's wall-clock on a shared 2-core CPU "
        f"(indicative only). Mean ± std over training seeds {list(cfg.seeds)}.\n\n{table}\n\n"
        "Claims, read on these rows (differences at equal steps, positive: the first is higher):\n\n"
        + "\n".join(claim_readings(per_seed)) + "\n\n"
        f"Emoji image -> name R@5 (%) per language:\n\n{lang_table}\n\n![study](study.png)\n\n"
        f"Generated by `{cmd}` in {time.perf_counter() - t_start:.0f} s in all (one thread).\n"
    )
    metrics: dict[str, float] = {}
    for tag, m, b in (("sfclip", "SF-CLIP", "equal steps"), ("clip", "CLIP", "equal steps"),
                      ("clip_time", "CLIP", "equal time"), ("no_text", "SF-CLIP, no text teacher", "equal steps"),
                      ("no_image", "SF-CLIP, no image teacher", "equal steps"),
                      ("mean", "SF-CLIP, per-dimension mean", "equal steps"), ("random", "random init", "-")):
        for key in ("fashion_top1", "clipart_mean_R", "emoji_other_mean_R"):
            try:
                metrics[f"{key}_{tag}"] = seed_mean(per_seed, key, method=m, budget=b)
            except ValueError:
                pass  # a row the study did not run
    outputs = [str(png)] + ([str(doc_png)] if doc_png else [])
    return StageResult(metrics=metrics, summary=summary, outputs=outputs, details={"per_seed": per_seed})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sfclip.study``: 0 on success, 2 on a config error."""
    return study_main(SFCLIPStudyConfig, study, argv, "sfclip")


if __name__ == "__main__":
    raise SystemExit(main())
