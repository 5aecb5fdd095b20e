"""Two best-known colorization networks, re-implemented from their papers' layer tables for speed comparisons.

Random weights: speed does not depend on them. Neither is registered with chromatize; each is wrapped so
the pipeline can run it (``as_colorizer``).

- :class:`DeOldifySize`: DeOldify's generator (fastai ``DynamicUnetWide``: a ResNet-34 encoder, a wide
  decoder whose blocks all output ``512 * nf_factor`` channels, pixel-shuffle (ICNR) upsampling, a
  self-attention layer in the third block, and a last residual block), with ``nf_factor`` 1.5 as in
  DeOldify's "artistic" model: 50.5 M parameters (its released weights hold about 63 M).
- :class:`Zhang2016`: Zhang, Isola & Efros 2016, "Colorful Image Colorization", Table 4: conv1-conv8
  (conv5 and conv6 dilated by 2), batch norm after each block, 313 ab bins predicted at 1/4 resolution;
  the annealed mean of the bins gives ab, upsampled 4x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, stride: int = 1, dilation: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, stride), conv_bn(cout, cout, relu=False))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


def resnet34_stages() -> nn.ModuleList:
    """Stem (/4 after pool... kept as /2 and /4 stages for the skips) and layers 1-4 of ResNet-34."""
    stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
    stages, cin = [stem], 64
    for i, (cout, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        layers = [nn.MaxPool2d(3, 2, 1)] if i == 0 else []
        for b in range(blocks):
            layers.append(BasicBlock(cin, cout, 2 if b == 0 and i > 0 else 1))
            cin = cout
        stages.append(nn.Sequential(*layers))
    return nn.ModuleList(stages)


class PixelShuffleUp(nn.Module):
    """fastai's PixelShuffle_ICNR: 1x1 conv to 4x channels, pixel shuffle (2x), blur (replication pad + avg)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout * 4, 1), nn.BatchNorm2d(cout * 4), nn.ReLU(inplace=True))

    def forward(self, x):
        x = F.pixel_shuffle(self.conv(x), 2)
        return F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)


class SelfAttention(nn.Module):
    """SAGAN self-attention (as in fastai's ``SelfAttention``)."""

    def __init__(self, c: int):
        super().__init__()
        self.q, self.k, self.v = nn.Conv1d(c, c // 8, 1), nn.Conv1d(c, c // 8, 1), nn.Conv1d(c, c, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        f = x.view(b, c, -1)
        beta = torch.softmax(torch.bmm(self.q(f).transpose(1, 2), self.k(f)), dim=1)
        return (self.gamma * torch.bmm(self.v(f), beta) + f).view(b, c, h, w)


class WideBlock(nn.Module):
    """DeOldify's UnetBlockWide: upsample to ``n_out // 2``, join the (batch-normed) skip conv'd to ``n_out // 2``."""

    def __init__(self, up_in: int, skip_in: int, n_out: int, attention: bool = False):
        super().__init__()
        self.up = PixelShuffleUp(up_in, n_out // 2)
        self.skip_bn = nn.BatchNorm2d(skip_in)
        self.conv = conv_bn(n_out // 2 + skip_in, n_out)
        self.attention = SelfAttention(n_out) if attention else nn.Identity()

    def forward(self, x, skip):
        x = self.up(x)
        x = F.interpolate(x, size=skip.shape[-2:]) if x.shape[-2:] != skip.shape[-2:] else x
        return self.attention(self.conv(torch.cat([x, self.skip_bn(skip)], 1)))


class DeOldifySize(nn.Module):
    """L ``[B,1,H,W]`` (H, W multiples of 32) -> ab ``[B,2,H,W]``."""

    size_multiple = 32

    def __init__(self, nf_factor: float = 1.5):
        super().__init__()
        nf = int(512 * nf_factor)
        self.encoder = resnet34_stages()
        self.middle = nn.Sequential(conv_bn(512, 1024), conv_bn(1024, 512))
        skips = [256, 128, 64, 64]
        ups, cin = [], 512
        for i, s in enumerate(skips):
            n_out = nf if i < len(skips) - 1 else nf // 2
            ups.append(WideBlock(cin, s, n_out, attention=i == 2))
            cin = n_out
        self.ups = nn.ModuleList(ups)
        self.final_up = PixelShuffleUp(cin, cin)
        self.res = nn.Sequential(conv_bn(cin + 3, cin + 3), conv_bn(cin + 3, cin + 3))
        self.out = nn.Conv2d(cin + 3, 2, 1)

    def forward(self, L):
        x0 = L.expand(-1, 3, -1, -1)
        feats, x = [], x0
        for stage in self.encoder:
            x = stage(x)
            feats.append(x)
        x = self.middle(feats[-1])
        for up, skip in zip(self.ups, reversed(feats[:-1])):
            x = up(x, skip)
        x = torch.cat([self.final_up(x), x0], 1)
        return torch.tanh(self.out(self.res(x) + x))


class Zhang2016(nn.Module):
    """L ``[B,1,H,W]`` (H, W multiples of 8) -> ab ``[B,2,H,W]`` via 313 bins at 1/4 resolution."""

    size_multiple = 8

    def __init__(self, bins: int = 313, temperature: float = 0.38):
        super().__init__()
        spec = [  # (channels, convs, first stride, dilation) per block, Table 4
            (64, 2, 2, 1), (128, 2, 2, 1), (256, 3, 2, 1), (512, 3, 1, 1), (512, 3, 1, 2), (512, 3, 1, 2), (512, 3, 1, 1),
        ]
        blocks, cin = [], 1
        for cout, convs, stride, dilation in spec:
            layers = []
            for i in range(convs):  # Zhang strides the last conv of conv1-3; same cost as the first
                layers.append(nn.Conv2d(cin, cout, 3, stride if i == convs - 1 else 1, dilation, dilation))
                layers.append(nn.ReLU(inplace=True))
                cin = cout
            blocks += [*layers, nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*blocks)
        self.conv8 = nn.Sequential(nn.ConvTranspose2d(512, 256, 4, 2, 1), nn.ReLU(inplace=True),
                                   nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
                                   nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True))
        self.classes = nn.Conv2d(256, bins, 1)
        self.register_buffer("centres", torch.randn(bins, 2) * 0.4)
        self.temperature = temperature

    def forward(self, L):
        logits = self.classes(self.conv8(self.body(L)))
        p = torch.softmax(logits / self.temperature, dim=1)
        ab = torch.einsum("bqhw,qc->bchw", p, self.centres)
        return F.interpolate(ab, scale_factor=4, mode="bilinear", align_corners=False)


def as_colorizer(net: nn.Module, name: str) -> nn.Module:
    """Give a reference network the registry metadata the pipeline reads (it is not registered)."""
    from chromatize.registry import ModelInfo

    net.chromatize_info = ModelInfo(name, size_multiple=net.size_multiple)
    return net.eval()
