"""The reports' two plain U-Nets: ``unet_bn`` (conv-BN-ReLU, 64..1024) and ``unet`` (conv-ReLU, 32..512).

Both: ``levels`` resolution levels (5 in the reports), two 3x3 convs per level, 2x2 max-pool down,
2x2 stride-2 transposed conv up, skip concatenation, 1x1 output conv. Built on
:class:`chromatize.models.common.UNet`, the skeleton pix2pix shares.
"""

from __future__ import annotations

from torch import nn

from chromatize.models.common import UNet, conv_block, level_widths, out_channels, output_head
from chromatize.models.hints import GUIDE_CHANNELS
from chromatize.registry import register_model


def plain_unet(base: int, levels: int = 5, norm: bool = False, convs: int = 2, target: str = "lab",
               hints: bool = False) -> UNet:
    """Classic U-Net: L ``[B,1,H,W]`` -> ab ``[B,2,H,W]`` (unbounded) or sRGB ``[B,3,H,W]`` in [0,1].

    Level ``i`` has ``base * 2**i`` channels; H and W must be multiples of ``2**(levels-1)``.
    ``hints=True``: it also takes the ``hints`` input, and the dense ``hint_prior``, at every level.
    """
    if levels < 2:
        raise ValueError(f"a U-Net needs levels >= 2, got {levels}")
    c = level_widths(base, levels)
    stem = conv_block(1, c[0], convs, norm)
    downs = [nn.Sequential(nn.MaxPool2d(2), conv_block(c[i - 1], c[i], convs, norm)) for i in range(1, levels)]
    ups = [nn.ConvTranspose2d(c[i], c[i - 1], 2, stride=2) for i in range(levels - 1, 0, -1)]
    guide = GUIDE_CHANNELS if hints else 0
    merges = [conv_block(2 * c[i - 1] + guide, c[i - 1], convs, norm) for i in range(levels - 1, 0, -1)]
    head = nn.Sequential(nn.Conv2d(c[0], out_channels(target), 1), output_head(target))
    return UNet(stem, downs, ups, merges, head, size_multiple=2 ** (levels - 1), hints=hints)


@register_model(size_multiple=16, targets=("lab", "rgb"))
def unet_bn(base: int = 64, levels: int = 5, convs: int = 2, target: str = "lab") -> nn.Module:
    """5-level U-Net, conv-BN-ReLU, 64..1024 channels, max-pool down, transposed-conv up, skips."""
    return plain_unet(base, levels, norm=True, convs=convs, target=target)


@register_model(size_multiple=16, targets=("lab", "rgb"))
def unet(base: int = 32, levels: int = 5, target: str = "lab") -> nn.Module:
    """5-level U-Net, two 3x3 conv+ReLU per level, 32..512 channels, 2x2 transposed-conv up, skips."""
    return plain_unet(base, levels, norm=False, convs=2, target=target)


@register_model(size_multiple=16, targets=("lab", "rgb"), inputs=("L", "hints", "hint_prior"))
def unet_hints(base: int = 32, levels: int = 5, target: str = "lab") -> nn.Module:
    """unet that also takes colour hints (a dense, edge-aware prior at every level)."""
    return plain_unet(base, levels, norm=False, convs=2, target=target, hints=True)
