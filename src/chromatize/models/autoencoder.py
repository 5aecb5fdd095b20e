"""The reports' convolutional autoencoder (the "beta" Keras colorizer): strided-conv encoder,
nearest-upsampling decoder, tanh output. No skips, so fine detail comes only from the input L."""

from __future__ import annotations

import torch
from torch import nn

from chromatize.models.common import check_input, bounded_head, out_channels
from chromatize.registry import register_model

#: Encoder widths at ``base=64`` and which of those convs have stride 2.
ENCODER_WIDTHS = (64, 128, 128, 256, 256, 512, 512, 256, 128)
ENCODER_STRIDED = (0, 2, 4)


def _conv_relu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True)]


class Autoencoder(nn.Module):
    """L ``[B,1,H,W]`` -> ab ``[B,2,H,W]`` in [-1,1] (tanh) or sRGB in [0,1] (sigmoid).

    Encoder: nine 3x3 conv+ReLU, widths ``ENCODER_WIDTHS * base/64``, the 1st, 3rd and 5th with
    stride 2 (features ``[B,2*base,H/8,W/8]``). Decoder: upsample x2, conv ``base``, upsample x2,
    conv ``base/2``, conv to the output, upsample x2. H and W must be multiples of 8.
    """

    size_multiple = 8

    def __init__(self, base: int = 64, target: str = "lab"):
        super().__init__()
        if base < 2 or base % 2:
            raise ValueError(f"base must be an even width >= 2, got {base}")
        widths = [w * base // 64 for w in ENCODER_WIDTHS]
        enc: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip([1, *widths], widths)):
            enc += _conv_relu(cin, cout, 2 if i in ENCODER_STRIDED else 1)
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2), *_conv_relu(widths[-1], base),
            nn.Upsample(scale_factor=2), *_conv_relu(base, base // 2),
            nn.Conv2d(base // 2, out_channels(target), 3, padding=1), bounded_head(target),
            nn.Upsample(scale_factor=2),
        )

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        check_input(L, self.size_multiple)
        return self.decoder(self.encoder(L))


@register_model(size_multiple=8, targets=("lab", "rgb"))
def autoencoder(base: int = 64, target: str = "lab") -> nn.Module:
    """Strided-conv encoder (64..512..128) + upsampling decoder (128->64->32->2), tanh output."""
    return Autoencoder(base, target)
