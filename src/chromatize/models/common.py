"""Small building blocks shared by the model families, and the U-Net skeleton they build on."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from chromatize.models.hints import decoder_guides
from chromatize.registry import TARGETS


def out_channels(target: str) -> int:
    """2 (normalised ab) for ``target="lab"``, 3 (sRGB) for ``target="rgb"``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    return 3 if target == "rgb" else 2


def output_head(target: str) -> nn.Module:
    """Final activation: identity for normalised ab (unbounded regression), sigmoid for sRGB in [0,1]."""
    out_channels(target)
    return nn.Sigmoid() if target == "rgb" else nn.Identity()


def bounded_head(target: str) -> nn.Module:
    """Final activation for nets that bound their output: tanh for normalised ab (about [-1,1]), sigmoid for sRGB."""
    out_channels(target)
    return nn.Sigmoid() if target == "rgb" else nn.Tanh()


def check_input(L: torch.Tensor, size_multiple: int) -> None:
    """Raise a clear ``ValueError`` unless ``L`` is ``[B,1,H,W]`` with H, W multiples of ``size_multiple``."""
    if L.ndim != 4 or L.shape[1] != 1:
        raise ValueError(f"expected normalised L of shape [B,1,H,W], got {tuple(L.shape)}")
    h, w = L.shape[-2:]
    if h % size_multiple or w % size_multiple:
        raise ValueError(f"H and W must be multiples of {size_multiple} (pad first), got {h}x{w}")


def conv_block(cin: int, cout: int, convs: int = 2, norm: bool = False) -> nn.Sequential:
    """``convs`` x (3x3 conv, optional BatchNorm, ReLU); keeps H, W. ``[B,cin,H,W] -> [B,cout,H,W]``."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def level_widths(base: int, levels: int, cap: int | None = None) -> list[int]:
    """Channel width per U-Net level: ``base * 2**i``, optionally capped (pix2pix caps at ``8 * base``)."""
    return [min(base * 2**i, cap) if cap else base * 2**i for i in range(levels)]


class UNet(nn.Module):
    """U-Net skeleton; the families differ only in the blocks they hand it.

    ``stem`` maps L ``[B,1,H,W]`` to the first level's features. Each ``downs[i]`` halves the resolution
    and moves one level deeper (the input of each is kept as a skip). Going back up, ``ups[k]`` brings
    the deepest features one level up, that level's skip is concatenated before it along channels
    and passed through ``merges[k]``. ``head`` maps the last result to the output (ab or RGB, full size).
    H and W must be multiples of ``size_multiple`` (the product of all resolution halvings).

    ``hints=True`` makes it take hints too: ``forward(L, hints, prior)`` concatenates the guides at each level
    (:func:`chromatize.models.hints.decoder_guides`) after the skip and the upsampled features (the merges must
    take ``GUIDE_CHANNELS`` more inputs).
    """

    def __init__(
        self,
        stem: nn.Module,
        downs: Sequence[nn.Module],
        ups: Sequence[nn.Module],
        merges: Sequence[nn.Module],
        head: nn.Module,
        size_multiple: int,
        hints: bool = False,
    ):
        super().__init__()
        if not len(downs) == len(ups) == len(merges):
            raise ValueError("a U-Net needs one up and one merge per down")
        self.stem = stem
        self.downs = nn.ModuleList(downs)
        self.ups = nn.ModuleList(ups)
        self.merges = nn.ModuleList(merges)
        self.head = head
        self.size_multiple = size_multiple
        self.takes_hints = hints
        if hints:
            self.inputs = ("L", "hints", "hint_prior")

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None, prior: torch.Tensor | None = None) -> torch.Tensor:
        check_input(L, self.size_multiple)
        x = self.stem(L)
        skips = []
        for down in self.downs:
            skips.append(x)
            x = down(x)
        guides = decoder_guides(L, hints, prior, [s.shape[-2:] for s in skips]) if self.takes_hints else []
        for up, merge in zip(self.ups, self.merges):
            parts = [skips.pop(), up(x)] + ([guides.pop().to(x)] if guides else [])
            x = merge(torch.cat(parts, dim=1))
        return self.head(x)
