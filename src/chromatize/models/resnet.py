"""ResNet-18 colorizer (after Melas-Kyriazi's "Image Colorization with Neural Networks"): the first two
stages of a ResNet-18 on one-channel input as encoder, a conv-BN-ReLU + nearest-upsample decoder.

Module names follow torchvision's ``resnet18`` (``conv1``, ``bn1``, ``layer1.0.conv1``, ...,
``layer2.0.downsample.0``) so its ImageNet state dicts load after :func:`rgb_stem_to_gray`
(see :func:`load_resnet18_encoder`). torchvision itself is not needed.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from chromatize.models.common import check_input, out_channels, output_head
from chromatize.registry import register_model


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN with a residual; ``[B,cin,H,W] -> [B,cout,H/stride,W/stride]``."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(cin, cout, 3, stride)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv_bn(cout, cout)
        self.downsample = nn.Sequential(*_conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


def _decoder_step(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ResNet18Colorizer(nn.Module):
    """L ``[B,1,H,W]`` -> ab ``[B,2,H,W]`` (unbounded) or sRGB ``[B,3,H,W]`` in [0,1].

    Encoder: 7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool, ``layer1`` (2 blocks, ``base``),
    ``layer2`` (2 blocks, ``2*base``, stride 2) -> ``[B,2*base,H/8,W/8]`` (128 channels at the default).
    Decoder: conv-BN-ReLU 128, up x2, conv-BN-ReLU 64, 64, up x2, conv-BN-ReLU 32, conv to the
    output, up x2 (widths scale with ``base/64``). H and W must be multiples of 8.
    """

    size_multiple = 8

    def __init__(self, base: int = 64, target: str = "lab"):
        super().__init__()
        if base < 2 or base % 2:
            raise ValueError(f"base must be an even width >= 2, got {base}")
        self.conv1, self.bn1 = _conv_bn(1, base, 7, 2)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(base, base), BasicBlock(base, base))
        self.layer2 = nn.Sequential(BasicBlock(base, 2 * base, 2), BasicBlock(2 * base, 2 * base))
        self.decoder = nn.Sequential(
            *_decoder_step(2 * base, 2 * base), nn.Upsample(scale_factor=2),
            *_decoder_step(2 * base, base), *_decoder_step(base, base), nn.Upsample(scale_factor=2),
            *_decoder_step(base, base // 2),
            nn.Conv2d(base // 2, out_channels(target), 3, padding=1), nn.Upsample(scale_factor=2),
            output_head(target),
        )

    def encode(self, L: torch.Tensor) -> torch.Tensor:
        """Mid-level features ``[B,2*base,H/8,W/8]``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(L))))
        return self.layer2(self.layer1(x))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        check_input(L, self.size_multiple)
        return self.decoder(self.encode(L))


def rgb_stem_to_gray(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A copy of a ResNet state dict (torchvision key names) whose ``conv1.weight`` ``[C,3,k,k]`` is summed
    over its RGB inputs to ``[C,1,k,k]``: on a gray image (R=G=B=x) the new conv gives the same output
    as the old one. Other entries are kept as they are."""
    if "conv1.weight" not in state_dict:
        raise KeyError("state dict has no 'conv1.weight'; is it a torchvision-style ResNet?")
    weight = state_dict["conv1.weight"]
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ValueError(f"conv1.weight should be [C,3,k,k], got {tuple(weight.shape)}")
    return {**state_dict, "conv1.weight": weight.sum(dim=1, keepdim=True)}


def load_resnet18_encoder(model: ResNet18Colorizer, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load a torchvision-style ResNet-18 state dict (3- or 1-channel ``conv1``) into the encoder of
    ``model``; ``layer3``, ``layer4`` and ``fc`` are ignored, the decoder is left as it is."""
    if state_dict.get("conv1.weight", torch.empty(0, 1)).shape[1] == 3:
        state_dict = rgb_stem_to_gray(state_dict)
    wanted = {k for k in model.state_dict() if not k.startswith("decoder.")}
    missing = sorted(wanted - set(state_dict))
    if missing:
        raise KeyError(f"state dict lacks ResNet-18 encoder entries, e.g. {missing[:3]}")
    model.load_state_dict({k: state_dict[k] for k in wanted}, strict=False)


@register_model(size_multiple=8, targets=("lab", "rgb"))
def resnet18(base: int = 64, target: str = "lab") -> nn.Module:
    """ResNet-18 cut after layer2 (128 ch, 1/8 res) + conv-BN-ReLU / upsample decoder to full size."""
    return ResNet18Colorizer(base, target)
