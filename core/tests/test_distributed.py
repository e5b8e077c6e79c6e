"""Two-process gloo runs must reproduce a single process holding the whole batch (values and gradients).

The same function (:func:`_compute`) runs once in this process on the whole batch (the reference) and once
in each of two spawned ranks on uneven slices (3 and 5 samples). Convention (see sparse_core.distributed):
``mean_r loss_r == loss``; gradient on a rank's inputs ``== world_size * reference gradient`` of that slice;
replicated parameters: ``mean_r grad_r == reference grad``, so DDP's averaged parameter gradients are exact
(checked with a real DDP model too).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from sparse_core.distributed import (
    all_gather_sizes,
    all_reduce_mean,
    all_reduce_sum,
    gather_with_grad,
    get_rank,
    get_world_size,
    is_dist,
)
from sparse_core.ema import EMATeacher
from sparse_core.losses import (
    DINOLoss,
    IBOTPatchLoss,
    clip_loss,
    info_nce,
    koleo_loss,
    masked_feature_distill,
    nt_xent,
    symmetric_info_nce,
)
from sparse_core.testing import run_distributed

WORLD = 2
SIZES = [3, 5]
DT = torch.float64

# result kinds: how a rank's value relates to the single-process reference
LOSS = "loss"  # mean over ranks == reference
INPUT_GRAD = "input_grad"  # == WORLD * reference[slice] (slice along dim 0, or dim 1 for view-stacked inputs)
INPUT_GRAD_D1 = "input_grad_d1"
SLICE = "slice"  # == reference[slice] along dim 0
SLICE_D1 = "slice_d1"
MEAN = "mean"  # mean over ranks == reference (replicated parameters)
SAME = "same"  # every rank == reference


def _inputs() -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(1234)
    n = sum(SIZES)

    def r(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=DT)

    mask = torch.rand(n, 4, generator=g) < 0.5
    mask[1] = False  # a sample without masked tokens on rank 0
    mask[5] = True
    return {
        "gx": r(n, 3), "gw": r(WORLD, n, 3),
        "q": r(n, 5), "k": r(n, 5), "a": r(n, 5), "b": r(n, 5), "img": r(n, 5), "txt": r(n, 5),
        "ds": r(4, n, 6), "dt": r(2, n, 6), "dc": r(6),
        "ps": r(n, 4, 6), "pt": r(n, 4, 6), "pmask": mask, "pc": r(6),
        "kx": r(n, 5), "fs": r(n, 3, 4), "ft": r(n, 3, 4), "fmask": torch.rand(n, 3, generator=g) < 0.6,
        "x1": r(n, 6), "x2": r(n, 6), "n1": r(n, 5), "n2": r(n, 5),
    }


def _leaf(t: Tensor) -> Tensor:
    return t.detach().clone().requires_grad_(True)


def _compute(inp: dict[str, Tensor], lo: int, hi: int, use_ddp: bool) -> dict[str, tuple[str, Tensor]]:
    """Every check on samples ``lo:hi``; under a process group the losses see the global batch."""
    out: dict[str, tuple[str, Tensor]] = {}

    def d0(name: str) -> Tensor:
        return _leaf(inp[name][lo:hi])

    # gather_with_grad with uneven sizes; each rank weights the gathered tensor differently
    x = d0("gx")
    gathered = gather_with_grad(x)
    rank_w = inp["gw"][get_rank()] if is_dist() else inp["gw"].sum(0) / WORLD
    (gathered * rank_w).sum().backward()
    out["gather/value"] = (SAME, gathered.detach())
    out["gather/grad"] = (INPUT_GRAD, x.grad)
    out["sizes"] = (SAME, torch.tensor(sum(all_gather_sizes(hi - lo))))

    # InfoNCE (eq. 3.3) with a learnable temperature, gradients to queries and keys
    q, k, tau = d0("q"), d0("k"), _leaf(torch.tensor(0.25, dtype=DT))
    loss = info_nce(q, k, tau)
    loss.backward()
    out |= {"info_nce/loss": (LOSS, loss.detach()), "info_nce/q": (INPUT_GRAD, q.grad),
            "info_nce/k": (INPUT_GRAD, k.grad), "info_nce/tau": (MEAN, tau.grad)}

    a, b = d0("a"), d0("b")
    loss = symmetric_info_nce(a, b, 0.1)
    loss.backward()
    out |= {"sym/loss": (LOSS, loss.detach()), "sym/a": (INPUT_GRAD, a.grad), "sym/b": (INPUT_GRAD, b.grad)}

    img, txt, log_scale = d0("img"), d0("txt"), _leaf(torch.tensor(math.log(1 / 0.07), dtype=DT))
    loss = clip_loss(img, txt, log_scale.exp())
    loss.backward()
    out |= {"clip/loss": (LOSS, loss.detach()), "clip/img": (INPUT_GRAD, img.grad),
            "clip/txt": (INPUT_GRAD, txt.grad), "clip/scale": (MEAN, log_scale.grad)}

    # DINO: two steps with centering (the second uses the all-reduced center), then Sinkhorn
    ds = _leaf(inp["ds"][:, lo:hi])
    dt = inp["dt"][:, lo:hi]
    dino = DINOLoss(6, center_momentum=0.8).double()
    dino.center.copy_(inp["dc"])
    l1 = dino(ds, dt, 0.04)
    l2 = dino(ds, dt * 2, 0.05)
    (l1 + l2).backward()
    out |= {"dino/loss1": (LOSS, l1.detach()), "dino/loss2": (LOSS, l2.detach()),
            "dino/center": (SAME, dino.center.clone()), "dino/grad": (INPUT_GRAD_D1, ds.grad)}
    ds2 = _leaf(inp["ds"][:, lo:hi])
    lsk = dino(ds2, dt, 0.05, centering="sinkhorn")
    lsk.backward()
    out |= {"dino_sk/loss": (LOSS, lsk.detach()), "dino_sk/grad": (INPUT_GRAD_D1, ds2.grad),
            "dino_sk/targets": (SLICE_D1, dino.teacher_targets(dt, 0.05, "sinkhorn"))}

    # iBOT with uneven numbers of masked tokens per rank (and an empty sample)
    for mode in ("centering", "sinkhorn"):
        ps, pt, pm = d0("ps"), inp["pt"][lo:hi], inp["pmask"][lo:hi]
        ibot = IBOTPatchLoss(6, center_momentum=0.7).double()
        ibot.center.copy_(inp["pc"])
        loss = ibot(ps, pt, pm, 0.06, centering=mode)
        loss.backward()
        out |= {f"ibot_{mode}/loss": (LOSS, loss.detach()), f"ibot_{mode}/grad": (INPUT_GRAD, ps.grad),
                f"ibot_{mode}/center": (SAME, ibot.center.clone())}

    kx = d0("kx")
    loss = koleo_loss(kx)
    loss.backward()
    out |= {"koleo/loss": (LOSS, loss.detach()), "koleo/grad": (INPUT_GRAD, kx.grad)}

    fs = d0("fs")
    loss = masked_feature_distill(fs, inp["ft"][lo:hi], inp["fmask"][lo:hi])
    loss.backward()
    out |= {"distill/loss": (LOSS, loss.detach()), "distill/grad": (INPUT_GRAD, fs.grad)}

    n1, n2 = d0("n1"), d0("n2")  # NT-Xent: negatives gathered from both ranks, uneven sizes
    loss = nt_xent(n1, n2, 0.3)
    loss.backward()
    out |= {"nt_xent/loss": (LOSS, loss.detach()), "nt_xent/z1": (INPUT_GRAD, n1.grad),
            "nt_xent/z2": (INPUT_GRAD, n2.grad)}

    # a real (DDP-wrapped) model trained with the sum of the losses: averaged parameter grads must be exact
    torch.manual_seed(7)
    student, teacher_net = nn.Linear(6, 4).double(), nn.Linear(6, 4).double()
    model: nn.Module = nn.parallel.DistributedDataParallel(student) if use_ddp else student
    x1, x2 = inp["x1"][lo:hi], inp["x2"][lo:hi]
    z1, z2 = model(x1), model(x2)
    with torch.no_grad():
        t1, t2 = teacher_net(x1), teacher_net(x2)
    dino_m = DINOLoss(4).double()
    loss = (info_nce(z1, z2, 0.2) + clip_loss(z1, z2, 10.0) + koleo_loss(z1)
            + dino_m(torch.stack([z1, z2]), torch.stack([t1, t2]), 0.04))
    loss.backward()
    out |= {"ddp/loss": (LOSS, loss.detach()), "ddp/weight_grad": (SAME, student.weight.grad),
            "ddp/bias_grad": (SAME, student.bias.grad), "ddp/logged": (SAME, all_reduce_mean(loss.detach()))}

    # EMA teacher built from and updated with the DDP-wrapped student
    ema = EMATeacher(model)
    with torch.no_grad():
        student.weight.add_(1.0)
    ema.update(model, 0.25)
    out["ema/weight"] = (SAME, ema.module.weight.clone())
    out["world"] = (SAME, all_reduce_sum(torch.tensor(1.0)) * (WORLD / get_world_size()))
    return out


def _rank(rank: int, world: int, inp: dict[str, Tensor]) -> dict[str, Tensor]:
    lo = sum(SIZES[:rank])
    res = _compute(inp, lo, lo + SIZES[rank], use_ddp=True)
    return {k: v[1] for k, v in res.items()}


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    inp = _inputs()
    ranks = run_distributed(_rank, inp, world_size=WORLD, timeout_s=180)
    ref = _compute(inp, 0, sum(SIZES), use_ddp=False)
    return {"ref": ref, "ranks": ranks}


CHECKS = [
    "gather/value", "gather/grad", "sizes",
    "info_nce/loss", "info_nce/q", "info_nce/k", "info_nce/tau",
    "sym/loss", "sym/a", "sym/b",
    "clip/loss", "clip/img", "clip/txt", "clip/scale",
    "dino/loss1", "dino/loss2", "dino/center", "dino/grad", "dino_sk/loss", "dino_sk/grad", "dino_sk/targets",
    "ibot_centering/loss", "ibot_centering/grad", "ibot_centering/center",
    "ibot_sinkhorn/loss", "ibot_sinkhorn/grad",
    "koleo/loss", "koleo/grad", "distill/loss", "distill/grad", "nt_xent/loss", "nt_xent/z1", "nt_xent/z2",
    "ddp/loss", "ddp/weight_grad", "ddp/bias_grad", "ddp/logged", "ema/weight", "world",
]


@pytest.mark.parametrize("name", CHECKS)
def test_two_ranks_match_single_process(runs: dict[str, Any], name: str) -> None:
    kind, ref = runs["ref"][name]
    values = [r[name] for r in runs["ranks"]]
    assert all(v is not None for v in values), f"{name}: missing gradient"
    if kind == LOSS or kind == MEAN:
        torch.testing.assert_close(torch.stack(values).mean(0), ref)
        return
    if kind == SAME:
        for v in values:
            torch.testing.assert_close(v, ref)
        return
    dim = 1 if kind in (INPUT_GRAD_D1, SLICE_D1) else 0
    factor = WORLD if kind in (INPUT_GRAD, INPUT_GRAD_D1) else 1
    lo = 0
    for rank, v in enumerate(values):
        expected = ref.narrow(dim, lo, SIZES[rank]) * factor
        torch.testing.assert_close(v, expected, msg=lambda m, r=rank: f"{name} rank {r}: {m}")
        lo += SIZES[rank]


def test_helpers_without_process_group() -> None:
    x = torch.randn(3, 2, requires_grad=True)
    assert not is_dist() and get_rank() == 0 and get_world_size() == 1
    assert gather_with_grad(x) is x
    assert all_gather_sizes(3) == [3]
    torch.testing.assert_close(all_reduce_mean(x), x.detach())
