"""Augmentation in the spirit of Keras' ImageDataGenerator, done batched on the training device.

Horizontal flip, random resized crop (zoom + shift) and a small rotation are composed into one affine
map per image and applied with a single ``grid_sample`` over the whole batch (reflection at the
borders), so each output pixel is interpolated once and a 2-core CPU runs one large op per batch instead
of many tiny ones. Every part can be switched off; with all off the batch is only resized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    """``hflip``: random left-right flip. ``crop_scale``: smallest crop side as a fraction of the image
    (1 = no crop/zoom). ``rotation``: largest rotation in degrees (0 = none). ``degrade``: largest severity
    in ``[0,1]`` of old-print damage (grain, blur, faded tone, uneven light, dust, scratches, JPEG) applied
    by the task to the network's input L only, the colour target staying clean (0 = none; each image draws
    its own severity up to it and a random half of the effects, :func:`chromatize.data.degrade.degrade_l`)."""

    hflip: bool = True
    crop_scale: float = 0.7
    rotation: float = 10.0
    degrade: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.crop_scale <= 1.0:
            raise ValueError(f"augment.crop_scale must be in (0, 1], got {self.crop_scale}")
        if not 0.0 <= self.rotation <= 45.0:
            raise ValueError(f"augment.rotation must be in [0, 45] degrees, got {self.rotation}")
        if not 0.0 <= self.degrade <= 1.0:
            raise ValueError(f"augment.degrade must be in [0, 1], got {self.degrade}")

    @property
    def active(self) -> bool:
        """Whether the geometric part does anything (``degrade`` is the task's, on L)."""
        return self.hflip or self.crop_scale < 1.0 or self.rotation > 0.0


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """``float [B,3,H,W]`` -> ``[B,3,size,size]`` (antialiased bilinear; identity when already that size)."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def random_affines(n: int, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` random ``[2,3]`` affine matrices (output -> input normalised coordinates) drawn from ``cfg``."""
    u = torch.rand(n, 5, generator=generator)
    scale = cfg.crop_scale + (1.0 - cfg.crop_scale) * u[:, 0]
    angle = math.radians(cfg.rotation) * (2 * u[:, 1] - 1)
    flip = torch.where(u[:, 2] < 0.5, -1.0, 1.0) if cfg.hflip else torch.ones(n)
    room = 1.0 - scale  # the crop centre may move this far (normalised units) and stay inside
    tx, ty = room * (2 * u[:, 3] - 1), room * (2 * u[:, 4] - 1)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    return torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)


def augment(images: torch.Tensor, size: int, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """``float [B,3,H,W]`` in [0,1] -> augmented ``[B,3,size,size]`` in [0,1], each image its own draw."""
    if not cfg.active:
        return resize(images, size)
    theta = random_affines(images.shape[0], cfg, generator).to(images.device, images.dtype)
    grid = F.affine_grid(theta, [images.shape[0], 3, size, size], align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.clamp(0.0, 1.0)
