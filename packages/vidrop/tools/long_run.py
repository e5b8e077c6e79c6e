"""One long ViDROP run (85 % drop, the shipped ``tiny`` config) probed along the way: content / motion k-NN and
linear of the EMA teacher every ``EVERY`` steps, then the final teacher with each probe feature.

Usage (one CPU core; about 7 steps/s alone, so 3000 steps take about 8 minutes plus the probes)::

    OMP_NUM_THREADS=1 python packages/vidrop/tools/long_run.py STEPS EVERY OUT [--key value ...]

The overrides are added after ``--loss.koleo_weight 1.0 --data.num_videos 8192`` (the content signal and video
count of docs/study.md's long runs); seed 0. Prints one JSON line per probe point (the same probes as
``python -m vidrop.study --only sparsity``: :func:`vidrop.study.probe_sets` / :func:`vidrop.study.probe_all`, 320
+ 320 videos, unseen garments in the test set), the partner-vs-shuffled cross-entropy at step 0 and at the end,
and the final teacher's probes with ``feature`` = ``cls``, ``avg`` and ``cls+avg``. A measurement harness
(docs/study.md), not part of the package.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import torch

from sparse_core.config import parse_config
from vidrop.config import CONFIG_DIR, ViDROPConfig
from vidrop.evaluation.protocols import run_protocols
from vidrop.model import build_encoder
from vidrop.study import _probe_config, _train_with_curve, probe_all, probe_sets


def main(argv: list[str]) -> None:
    """Train, probe along the way and print the JSON lines (see the module docstring)."""
    steps, every, out, extra = int(argv[0]), int(argv[1]), argv[2], argv[3:]
    args = ["--config", "tiny", "--loss.koleo_weight", "1.0", "--data.num_videos", "8192", *extra,
            "--train.resume", "none", "--train.seed", "0", "--train.log_every", "50",
            "--train.max_steps", str(steps), "--train.out_dir", out]
    cfg = parse_config(ViDROPConfig, args, config_dir=CONFIG_DIR)
    sets = probe_sets(cfg)
    torch.manual_seed(0)
    rand = probe_all(build_encoder(cfg.encoder, drop_path_rate=0.0), sets, cfg)
    print(json.dumps({"step": 0, **rand}), flush=True)
    res, _ = _train_with_curve(cfg, sets, every, keep_task=True)
    print(json.dumps({"diag_init": res["diag_init"], "diag_end": res["diag_end"]}), flush=True)
    for feature in ("cls", "avg", "cls+avg"):
        probe = dataclasses.replace(_probe_config(cfg), feature=feature)
        row = {}
        with torch.random.fork_rng():
            for kind, (tr, te) in sets.items():
                ev = run_protocols(res["task"].teacher_encoder, tr, te, probe, tr.num_classes)
                row[f"{kind}_knn"], row[f"{kind}_linear"] = ev["knn_top1"], ev["linear_top1"]
        print(json.dumps({"feature": feature, **row}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
