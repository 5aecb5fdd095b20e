"""Augmentation in the spirit of Keras' ImageDataGenerator, done as one affine resample per image.

Horizontal flip, random resized crop (zoom + shift) and a small rotation are composed into a single
affine map and applied with ``grid_sample`` (reflection at the borders), so each output pixel is
interpolated once. Every part can be switched off; with all off the image is only resized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    """``hflip``: random left-right flip. ``crop_scale``: smallest crop side as a fraction of the image
    (1 = no crop/zoom). ``rotation``: largest rotation in degrees (0 = none)."""

    hflip: bool = True
    crop_scale: float = 0.7
    rotation: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.crop_scale <= 1.0:
            raise ValueError(f"augment.crop_scale must be in (0, 1], got {self.crop_scale}")
        if not 0.0 <= self.rotation <= 45.0:
            raise ValueError(f"augment.rotation must be in [0, 45] degrees, got {self.rotation}")

    @property
    def active(self) -> bool:
        return self.hflip or self.crop_scale < 1.0 or self.rotation > 0.0


def resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """``float [3,H,W]`` -> ``[3,size,size]`` (antialiased bilinear; identity when already that size)."""
    if image.shape[-2:] == (size, size):
        return image
    return F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def random_affine(cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random ``[2,3]`` affine matrix (output -> input normalised coordinates) drawn from ``cfg``."""

    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=generator))

    scale = uniform(cfg.crop_scale, 1.0)
    angle = math.radians(uniform(-cfg.rotation, cfg.rotation)) if cfg.rotation > 0 else 0.0
    flip = -1.0 if cfg.hflip and float(torch.rand((), generator=generator)) < 0.5 else 1.0
    room = 1.0 - scale  # the crop centre may move this far (normalised units) and stay inside
    tx, ty = uniform(-room, room), uniform(-room, room)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    return torch.tensor([[cos * flip, -sin, tx], [sin * flip, cos, ty]], dtype=torch.float32)


def augment(image: torch.Tensor, size: int, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """``float [3,H,W]`` in [0,1] -> augmented ``[3,size,size]`` in [0,1]."""
    if not cfg.active:
        return resize(image, size)
    theta = random_affine(cfg, generator)[None]
    grid = F.affine_grid(theta, [1, 3, size, size], align_corners=False)
    out = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out[0].clamp(0.0, 1.0)
