"""``vidrop-eval``: frozen-backbone evaluation of a ViDROP run (k-NN, linear / low-shot / attentive probes,
per-snippet feature export).

Examples::

    vidrop-eval --config tiny --run_dir runs/vidrop-tiny
    vidrop-eval --run_dir runs/vitb --data.source video --data.root K400/train --test_root K400/val
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparse_core.cli import require_path, run_cli
from sparse_core.config import ConfigError, parse_config
from vidrop.config import CONFIG_DIR, DataConfig, EncoderConfig, ViDROPConfig
from vidrop.eval_config import EvalConfig

__all__ = ["EvalConfig", "main", "evaluate"]

log = logging.getLogger("vidrop.eval")


def _encoder_cfg(cfg: EvalConfig) -> EncoderConfig:
    if cfg.run_dir is None:
        return cfg.encoder
    run_cfg_path = Path(cfg.run_dir) / "config.yaml"
    if not run_cfg_path.is_file():
        raise ConfigError(f"run_dir {cfg.run_dir} has no config.yaml (not a vidrop-train output folder?)")
    return parse_config(ViDROPConfig, ["--config", str(run_cfg_path)]).encoder


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run the evaluation described by ``cfg``; returns (and writes to ``cfg.out``) the results."""
    import torch  # torch and the encoder: for a run, not for --help or a bad argument

    from sparse_core.device import resolve_device
    from vidrop.data.build import build_dataset
    from vidrop.evaluation.loading import load_backbone
    from vidrop.evaluation.protocols import run_protocols
    from vidrop.evaluation.snippets import export_snippet_features
    from vidrop.model import build_encoder

    device = resolve_device(cfg.device)
    enc_cfg = _encoder_cfg(cfg)
    weights = cfg.weights or (str(Path(cfg.run_dir) / "teacher_backbone.safetensors") if cfg.run_dir else None)
    train_set = build_dataset(cfg.data)
    test_cfg = DataConfig(**{**vars(cfg.data), "num_videos": cfg.test_num_samples})
    test_set = build_dataset(test_cfg, root=cfg.test_root, seed_offset=cfg.test_seed_offset, split="test")
    num_classes = int(getattr(train_set, "num_classes", 0)) or None
    if num_classes is None:
        raise ConfigError("vidrop-eval's probes need labels: data.root must hold class folders (root/<class>/<video>) "
                          "or be a list file with labels; a flat folder or a single video has none")
    results: dict[str, Any] = {"weights": weights}
    torch.manual_seed(cfg.probe.seed)
    encoder = build_encoder(enc_cfg, drop_path_rate=0.0).to(device)
    if weights is not None:
        load_backbone(encoder, weights)
    results.update(run_protocols(encoder, train_set, test_set, cfg.probe, num_classes))
    if cfg.compare_random:
        torch.manual_seed(cfg.probe.seed)
        rand = build_encoder(enc_cfg, drop_path_rate=0.0).to(device)
        rand_res = run_protocols(rand, train_set, test_set, cfg.probe, num_classes)
        results.update({f"random_{k}": v for k, v in rand_res.items() if k.endswith("top1")})
    if cfg.snippets_root is not None:
        from vidrop.data.datasets import VideoFolderDataset

        ds = VideoFolderDataset(cfg.snippets_root)
        videos = {}
        for i, (path, _) in enumerate(ds.items):
            item = ds[i]
            if item is not None:
                videos[path.stem] = item["video"]
        out_dir = cfg.snippets_out or str(Path(cfg.run_dir or ".") / "snippet_features")
        p = cfg.probe
        paths = export_snippet_features(encoder, videos, out_dir, p.num_frames, p.frame_stride, p.size,
                                        cfg.snippet_stride)
        results["snippet_files"] = [str(x) for x in paths]
    out = cfg.out or (str(Path(cfg.run_dir) / "eval.json") if cfg.run_dir else None)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
    return results


def _evaluate_and_print(cfg: EvalConfig) -> None:
    if cfg.run_dir is not None:
        require_path(cfg.run_dir, "run_dir", "dir")
    if cfg.weights is not None:
        require_path(cfg.weights, "weights", "file")
    results = evaluate(cfg)
    print(json.dumps({k: v for k, v in results.items() if k != "snippet_files"}, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``--config NAME`` from ``vidrop/configs/eval``, dotted overrides) and evaluate.

    Returns:
        0 on success, 2 on a config error.
    """
    return run_cli(EvalConfig, _evaluate_and_print, argv, prog="vidrop-eval", config_dir=CONFIG_DIR / "eval")


if __name__ == "__main__":
    raise SystemExit(main())
