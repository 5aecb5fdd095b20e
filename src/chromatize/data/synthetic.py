"""Synthetic colour photographs for tests and demos: smooth gradients and soft shapes.

Colour follows brightness through one fixed palette (dark blue -> green -> yellow -> orange, with a small
per-image hue jitter), so a network *can* learn chroma from luminance and tests can see a loss drop.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

#: Palette stops: brightness t in [0,1] -> sRGB in [0,1].
_PALETTE = np.array(
    [[0.05, 0.10, 0.35], [0.10, 0.45, 0.30], [0.55, 0.75, 0.20], [0.95, 0.80, 0.25], [0.95, 0.55, 0.35]],
    dtype=np.float32,
)


def _brightness_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth scalar field ``[h,w]`` in ``[0,1]``: a linear gradient plus a few soft ellipses."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = y / max(h - 1, 1), x / max(w - 1, 1)
    angle = rng.uniform(0, 2 * np.pi)
    t = 0.5 + 0.4 * ((x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle))
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(0.1, 0.9, size=2)
        ry, rx = rng.uniform(0.1, 0.35, size=2)
        inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2
        t += rng.uniform(-0.5, 0.5) / (1.0 + np.exp(np.minimum(8.0 * (inside - 1.0), 50.0)))
    return np.clip(t, 0.0, 1.0)


def synthetic_image(rng: np.random.Generator, height: int, width: int | None = None) -> np.ndarray:
    """One synthetic colour image: ``uint8 [height,width,3]`` sRGB."""
    width = width or height
    t = _brightness_field(rng, height, width)
    pos = t * (len(_PALETTE) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_PALETTE) - 2)
    frac = (pos - lo)[..., None]
    rgb = _PALETTE[lo] * (1 - frac) + _PALETTE[lo + 1] * frac
    rgb = rgb * rng.uniform(0.9, 1.1, size=3).astype(np.float32)  # small per-image colour cast
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_synthetic_folder(
    root: str | os.PathLike,
    count: int,
    size: int = 48,
    *,
    seed: int = 0,
    gray: int = 0,
    corrupt: int = 0,
    suffix: str = ".png",
) -> list[Path]:
    """Write ``count`` colour images (plus ``gray`` grayscale and ``corrupt`` unreadable files) under ``root``.

    Images alternate between ``root`` and ``root/sub`` so recursive scanning is exercised. Returns all paths.
    """
    root = Path(root)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        h, w = size + int(rng.integers(0, size // 2 + 1)), size + int(rng.integers(0, size // 2 + 1))
        path = (root if i % 2 == 0 else root / "sub") / f"color_{i:04d}{suffix}"
        Image.fromarray(synthetic_image(rng, h, w)).save(path)
        paths.append(path)
    for i in range(gray):
        path = root / f"gray_{i:04d}.png"
        Image.fromarray(synthetic_image(rng, size)).convert("L").convert("RGB").save(path)
        paths.append(path)
    for i in range(corrupt):
        path = root / f"corrupt_{i:04d}.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
        paths.append(path)
    return paths
