"""``sfclip-eval``: evaluate a trained SF-CLIP run; optionally export it for open_clip.

Examples::

    sfclip-eval --run runs/sfclip-tiny                                   # procedural held-out pairs
    sfclip-eval --run runs/sfclip --classification_root /data/imagenet/val --tasks [zeroshot,linear] \\
        --probe_train_root /data/imagenet/train_subset
    sfclip-eval --run runs/sfclip --pairs_root /data/coco_val_pairs --multilingual_root /data/xtd10 \\
        --languages [en,de,fr,es,it,ru,pl,tr,zh,ko,ja] --tasks [retrieval,multilingual]
    sfclip-eval --run runs/sfclip-tiny --tasks [] --export_open_clip runs/sfclip-tiny/open_clip

Each evaluation reads its folder when one is given and the held-out procedural pairs otherwise (dense
segmentation always uses the procedural pairs' masks). The results go to ``<run>/eval.json`` (``--out``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sfclip.evaluation.config import EvalConfig
from sparse_core.cli import require_path, run_cli
from sparse_core.report import markdown_table

__all__ = ["evaluate", "main"]

log = logging.getLogger("sfclip")


def _check_paths(cfg: EvalConfig) -> None:
    """Refuse missing folders before any model is loaded."""
    require_path(cfg.run, "run", "dir")
    for key in ("classification_root", "probe_train_root", "pairs_root", "multilingual_root"):
        if getattr(cfg, key):
            require_path(getattr(cfg, key), key, "dir")
    if bool(cfg.probe_train_root) != bool(cfg.classification_root) and "linear" in cfg.tasks:
        from sparse_core.config import ConfigError

        raise ConfigError("probe_train_root and classification_root go together (the probe's train and test "
                          "folders); give both or neither")


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run the evaluations ``cfg.tasks`` of ``cfg.run``, write the JSON, optionally export for open_clip.

    Returns:
        ``{"metrics": flat numbers, "out": JSON path, "export": folder or None}``.
    """
    _check_paths(cfg)
    from sfclip.evaluation.folders import folder_linear_probe, folder_retrieval, folder_zero_shot  # torch: for a run
    from sfclip.evaluation.model import load_run
    from sfclip.evaluation.multilingual import multilingual_retrieval, read_multilingual_folder
    from sfclip.evaluation.shapes import held_out_pairs
    from sfclip.evaluation.suite import evaluate_pairs
    from sparse_core.device import resolve_device

    model, run_cfg = load_run(cfg.run)
    device = resolve_device(cfg.device)
    model.to(device)
    size, bs = run_cfg.vision.img_size, cfg.batch_size
    shapes = cfg.shapes
    procedural = [t for t in cfg.tasks if (t == "zeroshot" and not cfg.classification_root)
                  or (t == "retrieval" and not cfg.pairs_root) or (t == "multilingual" and not cfg.multilingual_root)
                  or (t == "linear" and not cfg.probe_train_root) or t == "segmentation"]
    metrics: dict[str, float] = {}
    if procedural:
        pairs = held_out_pairs(shapes.num_pairs, size, shapes.seed)
        probe = held_out_pairs(shapes.probe_pairs, size, shapes.seed + 1) if "linear" in procedural else None
        metrics |= {f"shapes_{k}": v for k, v in evaluate_pairs(model, pairs, procedural, cfg.templates,
                                                                  cfg.languages, probe, cfg.probe_epochs,
                                                                  bs, cfg.dense_features).items()}
    if "zeroshot" in cfg.tasks and cfg.classification_root:
        metrics |= {f"zeroshot_{k}": v for k, v in folder_zero_shot(model, cfg.classification_root,
                                                                     cfg.templates, bs).items()}
    if "linear" in cfg.tasks and cfg.probe_train_root:
        metrics |= folder_linear_probe(model, cfg.probe_train_root, cfg.classification_root, cfg.probe_epochs, bs)
    if "retrieval" in cfg.tasks and cfg.pairs_root:
        metrics |= {f"retrieval_{k}": v for k, v in folder_retrieval(model, cfg.pairs_root, bs).items()}
    if "multilingual" in cfg.tasks and cfg.multilingual_root:
        images, caps = read_multilingual_folder(cfg.multilingual_root, cfg.languages, size)
        scores = multilingual_retrieval(model.encode_images(images, bs), caps,
                                        lambda c: model.encode_texts(c, bs))
        metrics |= {f"multilingual_{lang}_{k}": v for lang, r in scores.items() for k, v in r.items()}
    out = Path(cfg.out) if cfg.out else Path(cfg.run) / "eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run": str(cfg.run), "tasks": list(cfg.tasks), "metrics": metrics}, indent=2))
    exported = None
    if cfg.export_open_clip:
        from sfclip.export import export_open_clip

        exported = export_open_clip(model.cpu(), run_cfg, cfg.export_open_clip)
        log.info("open_clip checkpoint -> %s (load with sfclip.export.load_open_clip)", exported)
    if metrics:
        print(markdown_table([{"metric": k, "value": v} for k, v in metrics.items()], ["metric", "value"]))
    log.info("results -> %s", out)
    return {"metrics": metrics, "out": out, "export": exported}


def _evaluate(cfg: EvalConfig) -> None:
    evaluate(cfg)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (dotted options) and evaluate; 0 on success, 2 on a config error."""
    return run_cli(EvalConfig, _evaluate, argv, prog="sfclip-eval")


if __name__ == "__main__":
    raise SystemExit(main())
