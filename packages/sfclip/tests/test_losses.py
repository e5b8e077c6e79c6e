"""The CLIP loss SF-CLIP trains with: eq. 7.1 (sum of both directions) vs open_clip, and across processes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from sparse_core.losses.clip import clip_loss
from sparse_core.testing import run_distributed


def _embeddings(n: int = 8, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (F.normalize(torch.randn(n, d, generator=g), dim=-1),
            F.normalize(torch.randn(n, d, generator=g), dim=-1))


def test_clip_loss_is_twice_open_clip_clip_loss() -> None:
    img, txt = _embeddings()
    scale = torch.tensor(14.3)
    ours = clip_loss(img, txt, scale, normalize=False, gather=False)
    ref = ClipLoss()(img, txt, scale)  # open_clip averages the two directions
    torch.testing.assert_close(ours, 2 * ref)


def _rank_loss_and_grad(rank: int, world: int, img: torch.Tensor, txt: torch.Tensor) -> tuple[float, list]:
    b = img.shape[0] // world
    x = img[rank * b:(rank + 1) * b].clone().requires_grad_(True)
    y = txt[rank * b:(rank + 1) * b].clone()
    loss = clip_loss(x, y, torch.tensor(10.0), normalize=True, gather=True)
    loss.backward()
    return float(loss), x.grad.tolist()


def test_gathered_negatives_on_two_gloo_processes_equal_one_process() -> None:
    img, txt = _embeddings(n=8)
    x = img.clone().requires_grad_(True)
    single = clip_loss(x, txt, torch.tensor(10.0), normalize=True, gather=True)
    single.backward()
    ranks = run_distributed(_rank_loss_and_grad, img, txt, world_size=2)
    # mean over ranks of the local losses = the single-process loss (sparse_core.distributed convention)
    assert abs(sum(r[0] for r in ranks) / 2 - single.item()) < 1e-5
    # a rank's input gradient is world_size x the single-process gradient of its rows (DDP averages it back)
    grads = torch.tensor([g for r in ranks for g in r[1]]) / 2
    torch.testing.assert_close(grads, x.grad)
