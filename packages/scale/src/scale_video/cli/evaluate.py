"""``scale-eval``: SCALE_linear / SCALE_k-NN / SCALE_ft and the frozen-base baselines on stored features.

Examples::

    scale-eval --config tiny --run runs/scale-tiny --train_root feats/eval-train --test_root feats/eval-test
    scale-eval --run runs/scale-ucf --train_root ucf/train_eval --test_root ucf/val_eval --probe.probes [knn]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from scale_video.cli.train import PREDICTOR_FILE
from scale_video.component_config import PredictorConfig
from scale_video.eval_config import EVAL_CONFIG_DIR, ScaleEvalConfig
from sparse_core.cli import require_path, run_cli
from sparse_core.config import ConfigError
from sparse_core.report import markdown_table

if TYPE_CHECKING:
    from scale_video.model import SCALEPredictor

__all__ = ["evaluate", "load_predictor", "main"]

log = logging.getLogger("scale_video")


def load_predictor(cfg: ScaleEvalConfig, in_dim: int) -> SCALEPredictor:
    """The trained predictor ``cfg.run`` / ``cfg.predictor`` names, for features of width ``in_dim``.

    Raises:
        ConfigError: neither given, a missing file, or weights that do not fit the architecture.
    """
    model_cfg = cfg.model
    if cfg.run is not None:
        run = require_path(cfg.run, "run", "dir")
        path = require_path(run / PREDICTOR_FILE, "run", "file")
        saved = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
        model_cfg = PredictorConfig(**(saved.get("model") or {}))
    elif cfg.predictor is not None:
        path = require_path(cfg.predictor, "predictor", "file")
    else:
        raise ConfigError("run or predictor is required (pass --run RUN_DIR or --predictor FILE)")
    from scale_video.model import SCALEPredictor  # torch and timm: for a run, not for --help
    from sparse_core.export import load_weights

    predictor = SCALEPredictor(in_dim, model_cfg)
    try:
        load_weights(predictor, path)
    except RuntimeError as err:
        raise ConfigError(f"{path} does not fit a predictor {model_cfg} on {in_dim}-d features: "
                          f"{str(err).splitlines()[0]}") from None
    return predictor


def evaluate(cfg: ScaleEvalConfig) -> dict[str, Any]:
    """Run the probes of ``cfg``; writes ``results.json`` / ``results.md`` into ``cfg.out``."""
    from scale_video.data import FeatureBank  # torch: for a run, not for --help
    from scale_video.probes import require_labels, run_probes
    from sparse_core.device import resolve_device

    device = resolve_device(cfg.device)
    train = FeatureBank.from_store(require_path(cfg.train_root, "train_root", "dir"), device)
    test = FeatureBank.from_store(require_path(cfg.test_root, "test_root", "dir"), device)
    if train.dim != test.dim:
        raise ConfigError(f"train_root holds {train.dim}-d features, test_root {test.dim}-d")
    require_labels(train, "train_root", cfg.probe.probes)
    require_labels(test, "test_root", cfg.probe.probes)
    predictor = load_predictor(cfg, train.dim).to(device)
    results = run_probes(predictor, train, test, cfg.probe)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    flat = {k: v for k, v in results.items() if not isinstance(v, dict)}
    if "lowshot" in results:
        flat.update({f"lowshot_{k}": v for k, v in results["lowshot"].items() if k != "fraction"})
    (out / "results.md").write_text(markdown_table([flat], list(flat), fmt=".2f") + "\n")
    return results


def _evaluate_and_log(cfg: ScaleEvalConfig) -> None:
    results = evaluate(cfg)
    log.info("top-1 (%%): %s", json.dumps(results))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and evaluate; 0 on success, 2 on a config error."""
    return run_cli(ScaleEvalConfig, _evaluate_and_log, argv, prog="scale-eval", config_dir=EVAL_CONFIG_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
