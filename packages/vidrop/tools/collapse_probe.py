"""Diagnose ViDROP's DINO-loss plateau at ln K: train the tiny config, then inspect teacher and student heads.

Usage (one CPU core, a few minutes for 100 steps)::

    OMP_NUM_THREADS=1 python packages/vidrop/tools/collapse_probe.py 100 [--config tiny_motion] [--key value ...]

Prints, at initialisation and after training, for the EMA teacher and the student on the large clips of the
first 64 training videos: the mean norm of the head's bottleneck output ``h`` (before L2-normalisation), the
mean cosine of ``h`` between different samples and between the two large clips of one video, the mean cosine
of the backbone CLS between samples, the std of the prototype logits over the K prototypes (a flat row means
a uniform prediction) and over the batch, and the weight-norm magnitude ``g`` of the prototype layer; then the
partner-vs-shuffled cross-entropy (:func:`vidrop.evaluation.diagnostics.partner_cross_entropy`): the DINO CLS
loss of a video's two large clips against the true partner and against another video's clip. Equal values at
step 0 mean the views share nothing the random network sees (the ln K plateau of the procedural motion-only
clips, issue 25); a gap that grows means the bootstrap has started. ``--config`` (default ``tiny``) picks the
shipped config. A measurement harness (docs/study.md), not part of the package.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from sparse_core.config import parse_config
from vidrop.cli.train import build_trainer
from vidrop.config import CONFIG_DIR, ViDROPConfig
from vidrop.evaluation.diagnostics import partner_cross_entropy
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


def partner(task: ViDROPTask, glob: torch.Tensor, tag: str, teacher_temp: float) -> None:
    """Print the partner-vs-shuffled cross-entropy of ``glob`` (B, 2, 3, T, S, S) at ``teacher_temp``."""
    d = partner_cross_entropy(task, glob, teacher_temp)
    print(f"[{tag}] DINO CLS cross-entropy to the true partner {d['partner_ce']:.3f}, to a shuffled partner "
          f"{d['shuffled_ce']:.3f} (gap {d['gap']:+.3f} ± {d['gap_se']:.3f}; ln K = {d['ln_k']:.3f})", flush=True)


def main(argv: list[str]) -> None:
    """Train ``argv[0]`` steps of a shipped config (``argv[1:]``: ``--config NAME`` and dotted overrides),
    probing before and after."""
    steps, rest = int(argv[0]), argv[1:]
    name = "tiny"
    if "--config" in rest:
        at = rest.index("--config")
        name, rest = rest[at + 1], rest[:at] + rest[at + 2:]
    cfg = parse_config(ViDROPConfig, ["--config", name, "--train.out_dir", f"runs/vidrop_collapse_{name}_{steps}",
                                      "--train.max_steps", str(steps), "--train.resume", "none", *rest],
                       config_dir=CONFIG_DIR)
    trainer = build_trainer(cfg)
    glob = torch.stack([trainer.dataset[i]["global"] for i in range(64)])
    task = trainer.unwrapped
    probe(task, glob, "init")
    partner(task, glob, "init", task.teacher_temp(0))
    trainer.fit()
    probe(task, glob, f"step {steps}")
    partner(task, glob, f"step {steps}", task.teacher_temp(steps))


if __name__ == "__main__":
    main(sys.argv[1:])
