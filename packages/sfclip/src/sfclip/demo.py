"""The SF-CLIP stage of the main demo: tiny SF-CLIP vs plain CLIP at equal steps, on real captions.

``run(out_dir)`` trains the shipped ``tiny`` config twice from the same seed: SF-CLIP (CLIP loss + masked
distillation from EfficientNet-Lite0 and all-MiniLM-L6-v2 on a subset of each batch, text input = projected
MiniLM word embeddings) and plain CLIP (the same towers and steps, no teacher, learned word embeddings).

With the real-caption packages installed (:func:`sfclip.real.available`) both train on openclipart pairs
(title + keyword tags, 32 px) and are scored by :func:`sfclip.evaluation.real.evaluate_real`: zero-shot top-1
over Fashion-MNIST's 10 class names (SLIP's 7 prompts, images inverted to dark-on-white; chance 10 %),
retrieval on held-out openclipart pairs and multilingual retrieval on emoji names. Without them the stage
falls back to the procedural pairs ("a red circle"; zero-shot over 40 colour-shape classes, chance 2.5 %) and
says so in its headline. The untrained towers are the random-init reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from sfclip.cli.train import train
from sfclip.config import CONFIG_DIR, SFCLIPConfig
from sfclip.evaluation.model import CLIPEncoder, build_student, load_run
from sfclip.evaluation.shapes import held_out_pairs
from sfclip.evaluation.suite import evaluate_pairs
from sparse_core.config import parse_config
from sparse_core.figures import learning_figure
from sparse_core.report import markdown_table
from sparse_core.suite import Headline, StageResult

__all__ = ["VARIANTS", "DEMO_STEPS", "Evaluate", "demo_headline", "run", "run_variant", "random_init",
           "variant_config"]

VARIANTS: dict[str, list[str]] = {
    "SF-CLIP": [],
    "CLIP": ["--teacher.vision", "[]", "--distill.text_ratio", "0", "--text.word_embedding_projection", "false"],
    "SF-CLIP, no text teacher": ["--distill.text_ratio", "0"],
    "SF-CLIP, no image teacher": ["--teacher.vision", "[]"],
    "SF-CLIP, per-dimension mean": ["--distill.reduction", "mean"],
}
"""Overrides of the ``tiny`` config per variant: SF-CLIP as shipped; plain CLIP (no teacher, learned word
embeddings; the teacher's tokenizer is kept); SF-CLIP without the text teacher or without the image teacher
(Table 7.8 ablations; both keep the projected teacher word embeddings); SF-CLIP with the distillation divided
by the teacher width (``distill.reduction: mean``)."""

DEMO_STEPS = 200
"""Training steps of both demo runs (the ``tiny`` config's 30 are a smoke run)."""
EMOJI_LANGUAGES = ("en", "es", "de", "fr", "ru", "zh")
"""Emoji-name languages the demo scores (the study scores all 14)."""

Evaluate = Callable[[CLIPEncoder], dict[str, float]]
"""A trained student -> its flat scores."""


def variant_config(name: str, out_dir: Path, steps: int, seed: int, extra: Sequence[str] = ()) -> SFCLIPConfig:
    """The ``tiny`` config with ``extra`` overrides, then variant ``name``'s, trained ``steps`` steps from ``seed``
    into ``out_dir``."""
    argv = ["--config", "tiny", *extra, *VARIANTS[name], "--train.out_dir", str(out_dir), "--train.resume",
            "none", "--train.max_steps", str(steps), "--train.seed", str(seed)]  # the variant's keys win
    return parse_config(SFCLIPConfig, argv, config_dir=CONFIG_DIR)


def run_variant(cfg: SFCLIPConfig, evaluate: Evaluate, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train ``cfg`` (on ``dataset`` when given), reload the exported student, evaluate it.

    Returns:
        ``{"steps", "train_s" (the training loop's wall-clock, teacher forward passes included, loading
        excluded), **evaluate(student)}``.
    """
    result = train(cfg, dataset)
    model, _ = load_run(cfg.train.out_dir)
    return {"steps": result["steps"], "train_s": float(result["time_s"]), **evaluate(model)}


def random_init(cfg: SFCLIPConfig, evaluate: Evaluate) -> dict[str, Any]:
    """The untrained towers of ``cfg`` (its seed), scored like the trained ones."""
    return {"steps": 0, "train_s": 0.0, **evaluate(build_student(cfg))}


def demo_headline(metrics: dict[str, float]) -> Headline:
    """The SF-CLIP stage's claim: zero-shot top-1 of SF-CLIP vs plain CLIP at equal steps.

    Args:
        metrics: the stage's flat numbers (``zeroshot_top1_sfclip``, ``zeroshot_top1_clip``,
            ``zeroshot_top1_random``; ``real_captions`` 1.0 when trained on openclipart and scored on
            Fashion-MNIST, absent or 0 for the procedural fallback).

    Returns:
        the headline; the baseline is CLIP at equal steps, random init and chance are references (no margin
        is stated: the thesis' gain is a few points at scale, the tiny run may show none).
    """
    real = bool(metrics.get("real_captions"))
    metric = ("zero-shot top-1 (%), Fashion-MNIST 10 classes, trained on openclipart captions" if real else
              "zero-shot top-1 (%), 40 classes, procedural pairs (real-caption packages absent)")
    return Headline(metric=metric, trained=metrics["zeroshot_top1_sfclip"],
                    baselines={"CLIP, equal steps": metrics["zeroshot_top1_clip"]},
                    references={"random init": metrics["zeroshot_top1_random"], "chance": 10.0 if real else 2.5})


def _real_setting(size: int, eval_pairs: int) -> tuple[Dataset, Evaluate, dict[str, str]]:
    """Training pairs, evaluation and column names of the real-caption setting."""
    from sfclip.evaluation.real import evaluate_real, load_real_sets
    from sfclip.real import training_pairs

    sets = load_real_sets(size, num_fashion=eval_pairs, num_clipart=eval_pairs, num_emoji=eval_pairs,
                          languages=EMOJI_LANGUAGES)

    def evaluate(model: CLIPEncoder) -> dict[str, float]:
        r = evaluate_real(model, sets)
        return {"zeroshot_top1": r["fashion_top1"], "retrieval_mean_R": r["clipart_mean_R"], **r}

    cols = {"fashion_top1": "Fashion-MNIST zero-shot top-1", "clipart_i2t_R@1": "clipart I->T R@1",
            "clipart_t2i_R@1": "clipart T->I R@1", "clipart_mean_R": "clipart mean R@1/5",
            "emoji_mean_R": f"emoji mean R@1/5 ({len(EMOJI_LANGUAGES)} languages)"}
    return training_pairs(size), evaluate, cols


def run(out_dir: Path, steps: int | None = None, eval_pairs: int = 500, overrides: Sequence[str] = (),
        real: bool | None = None) -> StageResult:
    """Train tiny SF-CLIP and CLIP, evaluate both, write ``sfclip_demo.md`` and a plot.

    Args:
        out_dir: output folder (runs under ``out_dir/sfclip`` and ``out_dir/clip``).
        steps: training steps of both (default :data:`DEMO_STEPS`).
        eval_pairs: images of each evaluation set.
        overrides: extra command-line overrides of the ``tiny`` config for both runs (tests pass tiny random
            teachers).
        real: train and score on real captions; default: when :func:`sfclip.real.available`.

    Returns:
        the stage result; ``headline``: :func:`demo_headline`; ``metrics``: zero-shot top-1 and retrieval
        mean recall of SF-CLIP, CLIP and random init, and ``real_captions``.
    """
    from sfclip.real import REAL_OVERRIDES, available

    out_dir = Path(out_dir)
    missing = available()
    use_real = not missing if real is None else real
    extra = [*(REAL_OVERRIDES if use_real else []), *overrides]
    base = variant_config("SF-CLIP", out_dir / "sfclip", 1, 0, extra)
    n = steps if steps is not None else DEMO_STEPS
    if use_real:
        dataset, evaluate, cols = _real_setting(base.vision.img_size, eval_pairs)
        setting = (f"openclipart pairs ({len(dataset)} train images, title + keyword tags, 32 px); scored on "  # type: ignore[arg-type]
                   f"{eval_pairs} Fashion-MNIST test images (zero-shot over its 10 class names with SLIP's 7 "
                   "prompts, inverted to dark-on-white; chance 10 %), held-out openclipart pairs (retrieval "
                   f"R@1/5 both ways against the distinct captions) and emoji names in {len(EMOJI_LANGUAGES)} "
                   "languages")
        chance = 10.0
    else:
        pairs = held_out_pairs(eval_pairs, base.vision.img_size, seed=1000)
        dataset = None  # type: ignore[assignment]

        def evaluate(model: CLIPEncoder) -> dict[str, float]:
            return evaluate_pairs(model, pairs, ("zeroshot", "retrieval"))

        cols = {"zeroshot_top1": "zero-shot top-1", "zeroshot_top5": "zero-shot top-5",
                "retrieval_mean_R": "retrieval mean R@1/5/10"}
        setting = (f"procedural pairs (32 px, 'a red circle'; the real-caption packages are absent: {missing}); "
                   f"scored on {eval_pairs} pairs of another seed: zero-shot over 40 colour-shape classes "
                   "(chance 2.5 %) and retrieval against the 40 distinct captions")
        chance = 2.5
    rows = {"random init": random_init(base, evaluate)}
    for name, folder in (("SF-CLIP", "sfclip"), ("CLIP", "clip")):
        rows[name] = run_variant(variant_config(name, out_dir / folder, n, 0, extra), evaluate, dataset)
    table = markdown_table([{"model": k, **v} for k, v in rows.items()], {"model": "model", "steps": "steps",
                                                                       "train_s": "train_s", **cols})
    png = learning_figure(out_dir / "sfclip_demo.png", out_dir / "sfclip" / "metrics.jsonl",
                          ["loss", "clip", "vd", "td"], "SF-CLIP training loss",
                          {k: [v["zeroshot_top1"], v["retrieval_mean_R"]] for k, v in rows.items()},
                          ["zero-shot top-1", "retrieval mean R"], chance, "held-out sets", ylabel="%")
    summary = (
        f"SF-CLIP vs plain CLIP, tiny towers, {n} steps of batch {base.train.batch_size} on {setting}. SF-CLIP "
        f"distils EfficientNet-Lite0 on {base.distill.image_ratio:.0%} and all-MiniLM-L6-v2 on "
        f"{base.distill.text_ratio:.1%} of each batch. train_s: wall-clock of the training loop on this "
        f"machine.\n\n{table}\n"
    )
    (out_dir / "sfclip_demo.md").write_text(f"# SF-CLIP demo\n\n{summary}\n![demo](sfclip_demo.png)\n")
    print(summary)
    metrics = {"real_captions": 1.0 if use_real else 0.0}
    for key, row in (("sfclip", rows["SF-CLIP"]), ("clip", rows["CLIP"]), ("random", rows["random init"])):
        metrics[f"zeroshot_top1_{key}"] = row["zeroshot_top1"]
        metrics[f"retrieval_mean_R_{key}"] = row["retrieval_mean_R"]
    return StageResult(headline=demo_headline(metrics), metrics=metrics, summary=summary,
                       outputs=[str(out_dir / "sfclip_demo.md"), str(png)], details={"rows": rows})
