"""pix2pix (Isola et al. 2017) for colorization: a U-Net generator and a 70x70 PatchGAN discriminator.

Layer lists follow the paper and its reference code: every down step is a 4x4 stride-2 conv
(LeakyReLU 0.2 before it, BatchNorm after, none on the outermost and innermost), every up step a
4x4 stride-2 transposed conv (ReLU before, BatchNorm after, dropout 0.5 on the inner ``8*base``
levels), with skip concatenation. At ``depth=8`` a 256 px input reaches 1x1 at the bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn

from chromatize.models.common import UNet, bounded_head, level_widths, out_channels
from chromatize.registry import register_model


def _down(cin: int, cout: int, norm: bool) -> nn.Sequential:
    layers = [nn.LeakyReLU(0.2), nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=False)]
    return nn.Sequential(*layers, *([nn.BatchNorm2d(cout)] if norm else []))


def _up(cin: int, cout: int, dropout: float) -> nn.Sequential:
    layers = [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.Dropout(dropout)] if dropout else []))


def pix2pix_generator(depth: int = 8, base: int = 64, dropout: float = 0.5, target: str = "lab") -> UNet:
    """pix2pix U-Net generator: L ``[B,1,H,W]`` in [-1,1] -> ab ``[B,2,H,W]`` (tanh, [-1,1]) or sRGB (sigmoid).

    ``depth`` stride-2 downs with widths ``base * 2**i`` capped at ``8 * base`` (64..512 at the defaults);
    H and W must be multiples of ``2**depth`` (256 at the default depth of 8).
    """
    if depth < 2:
        raise ValueError(f"pix2pix needs depth >= 2, got {depth}")
    c = level_widths(base, depth, cap=8 * base)
    stem = nn.Conv2d(1, c[0], 4, stride=2, padding=1, bias=False)
    downs = [_down(c[i - 1], c[i], norm=i < depth - 1) for i in range(1, depth)]
    ups = [
        _up(c[i] if i == depth - 1 else 2 * c[i], c[i - 1], dropout if 4 <= i < depth - 1 else 0.0)
        for i in range(depth - 1, 0, -1)
    ]
    merges = [nn.Identity() for _ in ups]
    head = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * c[0], out_channels(target), 4, stride=2, padding=1),
                         bounded_head(target))
    return UNet(stem, downs, ups, merges, head, size_multiple=2**depth)


class PatchGAN(nn.Module):
    """PatchGAN discriminator: ``[B,in_channels,H,W]`` (normalised L concatenated with ab or RGB) ->
    real/fake logits ``[B,1,h,w]`` (no sigmoid), one per overlapping patch.

    ``n_layers`` 4x4 stride-2 convs (64, 128, 256 at the defaults), one stride-1 conv (512) and a
    stride-1 conv to one channel; BatchNorm and LeakyReLU(0.2) between them (none on the first).
    The defaults give 70x70 receptive fields and ``h = H/8 - 2``. H and W must be at least
    ``3 * 2**n_layers``.
    """

    def __init__(self, in_channels: int = 3, base: int = 64, n_layers: int = 3):
        super().__init__()
        widths = [base * min(2**i, 8) for i in range(n_layers + 1)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(widths[i - 1], widths[i], 4, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(widths[i]), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.min_size = 3 * 2**n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchGAN expects [B,{self.in_channels},H,W], got {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"PatchGAN needs H, W >= {self.min_size}, got {tuple(x.shape[-2:])}")
        return self.net(x)


@register_model(size_multiple=256, targets=("lab", "rgb"))
def pix2pix(depth: int = 8, base: int = 64, dropout: float = 0.5, target: str = "lab") -> nn.Module:
    """pix2pix U-Net generator (8 down / 8 up at 256 px, dropout in the inner decoder)."""
    return pix2pix_generator(depth, base, dropout, target)


@register_model(kind="discriminator")
def patchgan(in_channels: int = 3, base: int = 64, n_layers: int = 3) -> nn.Module:
    """70x70 PatchGAN discriminator over L concatenated with ab (3 channels) or RGB (4)."""
    return PatchGAN(in_channels, base, n_layers)
