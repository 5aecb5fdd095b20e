"""Classification colorizer (Zhang, Isola & Efros 2016): any registered backbone predicts logits over the
in-gamut ab bins; the annealed mean of that distribution is the ab the pipeline sees.

The backbone is built by name and its output layer is swapped for one with Q channels (see
:func:`replace_output_layer`), so every family in the zoo can serve, unchanged. As in the paper, the
classes are predicted at a reduced resolution (``scale``, 4 by default): Q = 262 channels at full size
would make each training step several times dearer than regression, and chroma is low-frequency anyway.
"""

from __future__ import annotations

from typing import Any

import math

import torch
import torch.nn.functional as F
from torch import nn

from chromatize.color import ab_gamut_bins
from chromatize.models.common import check_input
from chromatize.quantize import ANNEALED_TEMPERATURE, annealed_mean
from chromatize.registry import create_model, register_model

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)
_BOUNDS = (nn.Tanh, nn.Sigmoid)


def _conv_like(conv: nn.Conv2d | nn.ConvTranspose2d, out_channels: int) -> nn.Module:
    kw = dict(kernel_size=conv.kernel_size, stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
              groups=conv.groups, bias=conv.bias is not None, padding_mode=conv.padding_mode)
    if isinstance(conv, nn.ConvTranspose2d):
        kw["output_padding"] = conv.output_padding
    return type(conv)(conv.in_channels, out_channels, **kw)


def replace_output_layer(net: nn.Module, out_channels: int, pool: int = 1) -> nn.Module:
    """Give a colorizer ``out_channels`` raw outputs at ``1/pool`` of its output size: its output conv (the
    last conv it registers, which must have 2 outputs, ab) is replaced by a ``pool`` x ``pool`` average
    pooling and a fresh conv of the same shape with ``out_channels`` outputs; a tanh / sigmoid registered
    after it becomes the identity. Modifies and returns ``net``."""
    modules = list(net.named_modules())
    last = max((i for i, (_, m) in enumerate(modules) if isinstance(m, _CONVS)), default=None)
    if last is None or modules[last][1].out_channels != 2:
        raise ValueError(f"{type(net).__name__}: its last conv is not a 2-channel ab output; cannot attach class logits")
    for i, (name, module) in enumerate(modules[last:]):
        if i == 0:
            new = _conv_like(module, out_channels)
            new = nn.Sequential(nn.AvgPool2d(pool), new) if pool > 1 else new
        elif isinstance(module, _BOUNDS):
            new = nn.Identity()
        else:
            continue
        parent, _, attr = name.rpartition(".")
        setattr(net.get_submodule(parent), attr, new)
    return net


class ABClassifier(nn.Module):
    """L ``[B,1,H,W]`` -> normalised ab ``[B,2,H,W]``: annealed mean (temperature ``T``) of the class
    distribution from :meth:`logits` ``[B,Q,H/scale,W/scale]`` over the bins ``bin_centers`` ``[Q,2]``
    (Lab units), upsampled bilinearly to ``H x W``.

    Buffers (saved in checkpoints): ``bin_centers``; ``prior`` ``[Q]``, the training data's pixel count per
    bin (zeros until a classification task sets it; training uses it for the class weights).
    """

    def __init__(self, backbone: nn.Module, temperature: float = ANNEALED_TEMPERATURE, scale: int = 4):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        centers = ab_gamut_bins()
        self.backbone = replace_output_layer(backbone, len(centers), pool=scale)
        self.register_buffer("bin_centers", centers)
        self.register_buffer("prior", torch.zeros(len(centers)))
        self.temperature = float(temperature)
        self.scale = int(scale)
        multiple = int(backbone.chromatize_info.size_multiple)
        # some families put their output layer at half size (then upsample): pooling there needs 2 x scale
        self.size_multiple = multiple if scale == 1 else math.lcm(multiple, 2 * scale)

    @property
    def num_classes(self) -> int:
        return len(self.bin_centers)

    def logits(self, L: torch.Tensor) -> torch.Tensor:
        """Normalised L ``[B,1,H,W]`` -> unnormalised class scores ``[B,Q,H/scale,W/scale]``."""
        check_input(L, self.size_multiple)
        out = self.backbone(L)
        h, w = L.shape[-2] // self.scale, L.shape[-1] // self.scale
        if out.shape[1] != self.num_classes or out.shape[-2:] != (h, w):
            raise RuntimeError(f"backbone gave {tuple(out.shape)}, expected [B,{self.num_classes},{h},{w}]")
        return out

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        ab = annealed_mean(self.logits(L), self.bin_centers, self.temperature)
        return ab if self.scale == 1 else F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)


@register_model()
def classifier(
    backbone: str = "unet", backbone_args: dict[str, Any] | None = None, temperature: float = ANNEALED_TEMPERATURE,
    scale: int = 4, pretrained: bool = False,
) -> nn.Module:
    """Class-rebalanced ab classification (Zhang 2016) over any backbone, annealed-mean readout (T 0.38)."""
    args = dict(backbone_args or {})
    if "pretrained" in args or "target" in args:
        raise ValueError("give pretrained as the classifier's own argument (checkpoints then rebuild without "
                         "the ImageNet weights); the target is always lab")
    if pretrained:
        args["pretrained"] = True
    return ABClassifier(create_model(backbone, **args), temperature, scale)
