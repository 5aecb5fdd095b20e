"""Small building blocks shared by the model families."""

from __future__ import annotations

from torch import nn

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
