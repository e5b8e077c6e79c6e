"""A reference self-supervised loop on ViDROP's views, written apart from ``vidrop.task``: is a plateau ViDROP's?

Usage (one CPU core; a few minutes for 200 steps)::

    OMP_NUM_THREADS=1 python packages/vidrop/tools/reference_dino.py 200 dino [--dotted.override value ...]
    OMP_NUM_THREADS=1 python packages/vidrop/tools/reference_dino.py 200 infonce [--config tiny_motion ...]
    OMP_NUM_THREADS=1 python packages/vidrop/tools/reference_dino.py 450 supervised --data.image_size 40
    OMP_NUM_THREADS=1 python packages/vidrop/tools/reference_dino.py 0 pixels

Same data, views, backbone (``vidrop.model.build_encoder``) and probes (``vidrop.study.probe_all``) as the
shipped config; everything else is its own: ``dino`` is DINO v1 in its plainest form (a 2-layer MLP head onto
L2-normalised prototypes, softmax centering, teacher temperature 0.04, student 0.1, EMA teacher at a constant
momentum, dense student, no iBOT / KoLeo / token drop, constant lr); ``infonce`` is SimCLR's NT-Xent on the
two large clips (temperature 0.2; no teacher), a method that has no uniform-prediction phase to escape;
``supervised`` is the supervised ceiling of the same backbone (a linear head on the CLS of both large clips,
cross-entropy on ``data.label_kind``, AdamW at ``optim.lr``): does the encoder learn the label at all from
these clips in this many steps? Steps 0 with ``pixels`` prints the k-NN / linear probes on the raw pixels of
the probe clips (how much of the label the input carries without any network). Prints
the probes of the random init and at the end, and the DINO / InfoNCE loss every 25 steps. A measurement
harness (docs/study.md), not part of the package.
"""

from __future__ import annotations

import copy
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from sparse_core.config import parse_config
from vidrop.config import CONFIG_DIR, ViDROPConfig
from vidrop.data.build import build_dataset
from vidrop.data.views import MultiClipViews
from vidrop.model import build_encoder
from vidrop.study import probe_all, probe_sets


class Net(nn.Module):
    """Backbone CLS -> MLP -> L2-normalised bottleneck -> ``k`` prototypes (or the bottleneck for InfoNCE; for
    ``k = 10`` ``protos`` is also usable as a linear head on the CLS)."""

    def __init__(self, cfg: ViDROPConfig, k: int) -> None:
        super().__init__()
        self.backbone = build_encoder(cfg.encoder, drop_path_rate=0.0)
        d = self.backbone.embed_dim
        self.mlp = nn.Sequential(nn.Linear(d, 256), nn.GELU(), nn.Linear(256, 64))
        self.protos = nn.Linear(d if k == 10 else 64, k, bias=k == 10)

    def forward(self, x: torch.Tensor, project: bool = True) -> torch.Tensor:
        """``(N, 3, T, S, S)`` -> ``(N, k)`` prototype logits, or ``(N, 64)`` unit bottleneck features."""
        z = F.normalize(self.mlp(self.backbone(x)[0]), dim=-1)
        return self.protos(z) if project else z


class Pixels(nn.Module):
    """The raw clip as its own feature: ``(N, 3, T, S, S)`` -> ``(N, 3 T S S)`` (the probes' ``cls+avg`` is the
    clip twice, which changes neither cosine k-NN nor a linear probe)."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))  # the probes read the device from a parameter

    def forward(self, x: torch.Tensor, *args: object, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(flattened clip (N, F), the same as one token (N, 1, F))``."""
        f = x.flatten(1)
        return f, f[:, None]


def main(argv: list[str]) -> None:
    """``argv``: steps, ``dino``, ``infonce``, ``supervised`` or ``pixels``, then ``--config NAME`` and dotted
    overrides of the config."""
    steps, method, rest = int(argv[0]), argv[1], argv[2:]
    name = "tiny"
    if "--config" in rest:
        at = rest.index("--config")
        name, rest = rest[at + 1], rest[:at] + rest[at + 2:]
    cfg = parse_config(ViDROPConfig, ["--config", name, *rest], config_dir=CONFIG_DIR)
    torch.manual_seed(cfg.train.seed)
    sets = probe_sets(cfg)
    if method == "pixels":
        print(json.dumps({"method": "pixels", **probe_all(Pixels(), sets, cfg)}), flush=True)
        return
    student = Net(cfg, cfg.head.out_dim if method != "supervised" else 10)
    print(json.dumps({"step": 0, **probe_all(student.backbone, sets, cfg)}), flush=True)
    teacher = copy.deepcopy(student).requires_grad_(False)
    center = torch.zeros(cfg.head.out_dim)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    loader = torch.utils.data.DataLoader(build_dataset(cfg.data, MultiClipViews(cfg.views)),
                                         batch_size=cfg.train.batch_size, shuffle=True, drop_last=True)
    step, t0 = 0, time.perf_counter()
    while step < steps:
        for batch in loader:
            g = batch["global"].transpose(0, 1)  # (2, B, 3, T, S, S)
            b = g.shape[1]
            if method == "dino":
                with torch.no_grad():
                    t = teacher(g.flatten(0, 1)).view(2, b, -1)
                    targets = F.softmax((t - center) / 0.04, dim=-1)
                    center = 0.9 * center + 0.1 * t.mean((0, 1))
                log_p = F.log_softmax(student(g.flatten(0, 1)).view(2, b, -1) / 0.1, dim=-1)
                loss = -0.5 * ((targets[0] * log_p[1]).sum(-1) + (targets[1] * log_p[0]).sum(-1)).mean()
            elif method == "supervised":
                logits = student.protos(student.backbone(g.flatten(0, 1))[0])  # (2B, 10), a linear head on CLS
                loss = F.cross_entropy(logits, batch["label"].repeat(2))
            else:
                z = student(g.flatten(0, 1), project=False)  # (2B, 64), unit
                sim = z @ z.T / 0.2
                sim.fill_diagonal_(float("-inf"))
                partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
                loss = F.cross_entropy(sim, partner)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for pt, ps in zip(teacher.parameters(), student.parameters()):
                    pt.mul_(cfg.loss.momentum_teacher).add_(ps.detach(), alpha=1 - cfg.loss.momentum_teacher)
            step += 1
            if step % 25 == 0:
                print(f"step {step} loss {float(loss.detach()):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
            if step == steps:
                break
    net = teacher if method == "dino" else student
    print(json.dumps({"step": steps, "method": method, **probe_all(net.backbone, sets, cfg)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
