"""Diagnose ViDROP's DINO-loss plateau at ln K: train the tiny config, then inspect teacher and student heads.

Usage (one CPU core, about 4 minutes for 100 steps)::

    OMP_NUM_THREADS=1 python packages/vidrop/tools/collapse_probe.py 100 [--dotted.override value ...]

Prints, at initialisation and after training, for the EMA teacher and the student on the large clips of the
first 64 training videos: the mean norm of the head's bottleneck output ``h`` (before L2-normalisation), the
mean cosine of ``h`` between different samples and between the two large clips of one video, the mean cosine
of the backbone CLS between samples, the std of the prototype logits over the K prototypes (a flat row means
a uniform prediction) and over the batch, and the weight-norm magnitude ``g`` of the prototype layer.
A measurement harness (docs/study.md), not part of the package.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from sparse_core.config import parse_config
from vidrop.cli.train import build_trainer
from vidrop.config import CONFIG_DIR, ViDROPConfig
from vidrop.task import ViDROPTask


def probe(task: ViDROPTask, glob: torch.Tensor, tag: str) -> None:
    """Print the head statistics of teacher and student on ``glob`` (B, G, 3, T, S, S)."""
    b, g = glob.shape[:2]
    task.eval()
    with torch.no_grad():
        for name, nets in (("teacher", task.teacher.module), ("student", task.student)):
            cls, _ = nets["backbone"](glob.transpose(0, 1).flatten(0, 1))  # (G*B, D), view-major
            head = nets["dino_head"]
            h = head.mlp(cls)
            hn = F.normalize(h, dim=-1)
            off = ~torch.eye(len(hn), dtype=torch.bool)
            cn = F.normalize(cls, dim=-1)
            logits = head.last_layer(hn)  # (G*B, K)
            views = hn.view(g, b, -1)
            gain = head.last_layer.parametrizations.weight.original0
            print(f"[{tag}] {name}: |h| {h.norm(dim=-1).mean():.3g}, cos(h) between samples "
                  f"{(hn @ hn.T)[off].mean():.3f}, between a video's clips {(views[0] * views[1]).sum(-1).mean():.3f}, "
                  f"cos(CLS) between samples {(cn @ cn.T)[off].mean():.3f}, logit std over K "
                  f"{logits.std(-1).mean():.3f}, over the batch {logits.std(0).mean():.3f}, g mean {gain.mean():.3f}",
                  flush=True)
    task.train()


def main(argv: list[str]) -> None:
    """Train ``argv[0]`` steps of the tiny config (``argv[1:]``: dotted overrides), probing before and after."""
    steps = int(argv[0])
    cfg = parse_config(ViDROPConfig, ["--config", "tiny", "--train.out_dir", f"runs/vidrop_collapse_{steps}",
                                      "--train.max_steps", str(steps), "--train.resume", "none", *argv[1:]],
                       config_dir=CONFIG_DIR)
    trainer = build_trainer(cfg)
    glob = torch.stack([trainer.dataset[i]["global"] for i in range(64)])
    probe(trainer.unwrapped, glob, "init")
    trainer.fit()
    probe(trainer.unwrapped, glob, f"step {steps}")


if __name__ == "__main__":
    main(sys.argv[1:])
