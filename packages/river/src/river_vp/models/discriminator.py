"""PatchGAN discriminator of VQGAN (Isola et al.; module names as taming's ``NLayerDiscriminator``)."""

from __future__ import annotations

from torch import Tensor, nn

from sparse_core.models.global_norm import GlobalBatchNorm2d

__all__ = ["PatchDiscriminator"]


class PatchDiscriminator(nn.Module):
    """Fully convolutional discriminator scoring overlapping patches.

    Its BatchNorms use the statistics of the whole batch of every process
    (:class:`~sparse_core.models.global_norm.GlobalBatchNorm2d`), so N processes score as one process does.

    Args:
        in_channels: image channels.
        ndf: width of the first layer (doubles per layer, capped at 8x).
        n_layers: stride-2 layers.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
                GlobalBatchNorm2d(ndf * mult),  # statistics of every process' rows
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.main = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> patch logits (B, 1, H', W')."""
        return self.main(x)
