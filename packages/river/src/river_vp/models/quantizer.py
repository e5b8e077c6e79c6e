"""Vector quantizer with a straight-through gradient and codebook / commitment losses (VQ-VAE, VQGAN)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["VectorQuantizer"]


class VectorQuantizer(nn.Module):
    """Nearest-codebook-entry quantization of every spatial position.

    Loss (van den Oord et al.): ``||sg[z] - e||^2 + beta ||z -
    sg[e]||^2`` (codebook + commitment), each a mean
    over elements. The forward output is ``z + sg[e - z]``: its value
    is ``e`` and its gradient w.r.t. ``z`` is
    the identity (straight-through estimator).

    Args:
        num_codes: codebook size.
        dim: code width (the latent channels).
        beta: commitment weight.
    """

    def __init__(self, num_codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.num_codes, self.dim, self.beta = num_codes, dim, beta
        self.embedding = nn.Embedding(num_codes, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / num_codes, 1.0 / num_codes)

    @torch.no_grad()
    def init_from_data(self, z: Tensor, generator: torch.Generator | None = None) -> None:
        """Set the codebook to randomly chosen latent vectors of ``z`` (B, C, H, W) plus small noise, so every
        code starts near the data (avoids the dead codes of a tiny uniform initialisation).

        Args:
            z: latents to draw the codes from (under DDP: the whole batch of every process, in the same order
                on each, so that each process computes the codebook one process holding that batch computes).
            generator: CPU generator of the choice and the noise (None: the global RNG); the codebook is then
                broadcast from rank 0 when distributed, so every process holds rank 0's.
        """
        flat = z.detach().permute(0, 2, 3, 1).reshape(-1, self.dim).float()
        idx = torch.randint(0, flat.shape[0], (self.num_codes,), generator=generator).to(flat.device)
        noise = 0.01 * flat.std() * torch.randn(self.num_codes, self.dim, generator=generator).to(flat.device)
        self.embedding.weight.copy_((flat[idx] + noise).to(self.embedding.weight.dtype))
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.broadcast(self.embedding.weight.data, src=0)  # same codebook on every rank

    def codes(self, z: Tensor) -> Tensor:
        """Index of the nearest code at every position: (B, C, H, W) -> (B, H, W) long."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, self.dim).float()
        emb = self.embedding.weight.float()
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ emb.t() + emb.pow(2).sum(1)[None]
        return d.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def lookup(self, idx: Tensor) -> Tensor:
        """Codes as a feature map: (B, H, W) long -> (B, C, H, W)."""
        return self.embedding(idx).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Quantize ``z``.

        Shape:
            z: (B, C, H, W); returns (z_q straight-through (B, C, H, W), loss scalar, indices (B, H, W)).
        """
        idx = self.codes(z)
        zq = self.lookup(idx).to(z.dtype)
        codebook = torch.mean((zq - z.detach()) ** 2)
        commitment = torch.mean((zq.detach() - z) ** 2)
        loss = codebook + self.beta * commitment
        return z + (zq - z).detach(), loss, idx
