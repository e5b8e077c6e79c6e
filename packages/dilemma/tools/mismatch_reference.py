"""The position-mismatch task alone, in a loop written apart from ``dilemma_ssl``: is a plateau DILEMMA's?

Usage (one CPU core; 1000 steps take about a minute)::

    OMP_NUM_THREADS=1 python packages/dilemma/tools/mismatch_reference.py --model own --data fashion_mnist
    OMP_NUM_THREADS=1 python packages/dilemma/tools/mismatch_reference.py --model core --data shapes
    OMP_NUM_THREADS=1 python packages/dilemma/tools/mismatch_reference.py --data fashion_mnist --augment 0.08

Only the mismatch of eq. 3.1 is trained: no contrastive term, no teacher, no sparsity schedule. Each step draws
64 training images, keeps 45 % of the tokens (``sparse_core.masking.random_keep_indices``), gives
``theta = 0.2`` of the kept ones the position of a dropped token (``masking.mismatch_positions``, the thesis'
``q_i = p_j, j in U \\ M``) and minimises the per-image sum of the token BCE (eq. 3.1) with AdamW at a
constant lr. ``--model own`` is a pre-norm transformer built from ``torch.nn.TransformerEncoder`` with fixed
2-D sin-cos positions (MoCo v3's), its own patchify and linear head; ``--model core`` is the package's backbone
(``sparse_vit_tiny_patch16_224`` with the same width, depth and positions) plus a linear head. Every 100 steps it
prints, on 512 test images with a fixed draw, the AUROC (0.5: no signal), BCE / H(theta) (1: nothing beyond
the label rate) and the accuracy at threshold 0 (the prior is 1 - |B| / |M|). ``--augment s`` trains on
SimCLR-style views (RandomResizedCrop of area ``[s, 1]``, flip, colour jitter; core's ``ssl_view_transform``)
and tests on the un-augmented, normalised images. A measurement harness (docs/study.md), not part of the
package.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from sparse_core import masking

WIDTH, DEPTH, HEADS, PATCH, KEEP, THETA, BATCH = 64, 4, 4, 4, 0.45, 0.2, 64


def load(name: str) -> tuple[Tensor, Tensor]:
    """(train, test) images in [0, 1], (N, 3, H, W): 2048 / 512 generated shapes or 8000 / 512 Fashion-MNIST."""
    if name == "shapes":
        from sparse_core.data.shapes import SyntheticShapes

        sets = SyntheticShapes(num_samples=2048, image_size=24, seed=0), SyntheticShapes(512, image_size=24, seed=1)
        sizes = (2048, 512)
    else:
        from sparse_core.data.fashion_mnist import FashionMNIST

        sets = FashionMNIST(split="train", channels=3), FashionMNIST(split="test", channels=3)
        sizes = (8000, 512)
    return tuple(torch.stack([s[i]["image"] for i in range(n)]).float() for s, n in zip(sets, sizes))  # type: ignore


def sincos(side: int, dim: int) -> Tensor:
    """(side * side, dim) fixed 2-D sin-cos positions, row-major: [sin x, cos x, sin y, cos y] bands.

    Written here on purpose instead of calling ``sparse_core.models.pos_embed.sincos_2d_table``: the ``own``
    model shares no model code with the package it checks.
    """
    y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4) / (dim // 4))
    bands = [f(c.flatten()[:, None] * omega) for c in (x, y) for f in (torch.sin, torch.cos)]
    return torch.cat(bands, 1)


class Own(nn.Module):
    """A plain pre-norm ViT: linear patch embedding + sin-cos position of ``pos_idx``, CLS, 4 blocks, head."""

    def __init__(self, side: int) -> None:
        super().__init__()
        self.embed = nn.Linear(3 * PATCH * PATCH, WIDTH)
        self.register_buffer("pos", sincos(side, WIDTH))
        self.cls = nn.Parameter(torch.zeros(1, 1, WIDTH))
        layer = nn.TransformerEncoderLayer(WIDTH, HEADS, 4 * WIDTH, 0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, DEPTH, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(WIDTH)
        self.head = nn.Linear(WIDTH, 1)

    def forward(self, x: Tensor, keep_idx: Tensor, pos_idx: Tensor) -> Tensor:
        """(B, 3, H, W), (B, K), (B, K) -> (B, K) mismatch logits."""
        b, c, h, w = x.shape
        patches = x.unfold(2, PATCH, PATCH).unfold(3, PATCH, PATCH).permute(0, 2, 3, 1, 4, 5)
        patches = patches.reshape(b, -1, c * PATCH**2)  # (B, N, 3 P P), row-major like the positions
        tokens = self.embed(patches).gather(1, keep_idx[..., None].expand(-1, -1, WIDTH)) + self.pos[pos_idx]
        tokens = torch.cat([self.cls.expand(b, -1, -1), tokens], 1)
        return self.head(self.norm(self.blocks(tokens))[:, 1:]).squeeze(-1)


class Core(nn.Module):
    """The package's backbone (sparse-core's ViT, token dropping and position override) plus a linear head."""

    def __init__(self, size: int) -> None:
        super().__init__()
        import timm

        import sparse_core.models  # noqa: F401 - registers sparse_vit_*

        self.backbone = timm.create_model("sparse_vit_tiny_patch16_224", pretrained=False, num_classes=0,
                                          img_size=size, patch_size=PATCH, embed_dim=WIDTH, depth=DEPTH,
                                          num_heads=HEADS, pos_embed_type="sincos")
        self.head = nn.Linear(WIDTH, 1)

    def forward(self, x: Tensor, keep_idx: Tensor, pos_idx: Tensor) -> Tensor:
        """(B, 3, H, W), (B, K), (B, K) -> (B, K) mismatch logits."""
        tokens = self.backbone.forward_features(x, keep_idx=keep_idx, pos_idx=pos_idx)
        return self.head(tokens[:, self.backbone.num_prefix_tokens :]).squeeze(-1)


def main() -> None:
    """Train the mismatch task alone and print its test metrics every 100 steps."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("own", "core"), default="own")
    p.add_argument("--data", choices=("shapes", "fashion_mnist"), default="fashion_mnist")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--augment", type=float, default=0.0, help="RandomResizedCrop min area; 0: no augmentation")
    args = p.parse_args()
    torch.manual_seed(0)
    train, test = load(args.data)
    side = train.shape[-1] // PATCH
    n = side * side
    aug = None
    if args.augment > 0:
        from sparse_core.data import augment

        aug = augment.ssl_view_transform(train.shape[-1], scale=(args.augment, 1.0), blur_p=0.0,
                                         jitter=(0.4, 0.4, 0.2, 0.0))
        mean, std = (torch.tensor(v)[:, None, None] for v in (augment.IMAGENET_MEAN, augment.IMAGENET_STD))
        test = (test - mean) / std
    model = Own(side) if args.model == "own" else Core(train.shape[-1])
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    g, gt = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    keep_t = masking.random_keep_indices(len(test), n, KEEP, generator=gt)
    pos_t, lab_t = masking.mismatch_positions(keep_t, n, THETA, generator=gt)
    rate = lab_t.mean().item()
    entropy = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    t0 = time.time()
    for step in range(args.steps + 1):
        if step % 100 == 0:
            model.eval()
            with torch.no_grad():
                logits = model(test, keep_t, pos_t)
            model.train()
            auroc = roc_auc_score(lab_t.flatten().numpy(), logits.flatten().numpy())
            bce = F.binary_cross_entropy_with_logits(logits, lab_t).item() / entropy
            acc = ((logits > 0).float() == lab_t).float().mean().item()
            print(f"step {step} auroc {auroc:.3f} bce/H {bce:.4f} acc {acc:.4f} (prior {1 - rate:.4f}) "
                  f"{time.time() - t0:.0f}s", flush=True)
        x = train[torch.randint(len(train), (BATCH,), generator=g)]
        if aug is not None:
            x = torch.stack([aug(img) for img in x])
        keep = masking.random_keep_indices(BATCH, n, KEEP, generator=g)
        pos, lab = masking.mismatch_positions(keep, n, THETA, generator=g)
        loss = F.binary_cross_entropy_with_logits(model(x, keep, pos), lab, reduction="none").sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
