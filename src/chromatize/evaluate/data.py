"""The evaluation images: find them, read them, bring them to the evaluation size, make the gray input.

Originals are sRGB ``float32 [H,W,3]`` in ``[0,1]`` on the 8-bit grid (they are resized as 8-bit
images, like any photo a user would colorize). With a ``size`` each photo is resized so its short side
is ``size`` and centre-cropped to ``size x size`` (every image then weighs the same in the means and
the galleries line up); with ``size=None`` it is kept at full resolution.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

#: File suffixes taken as images (lower case); other files in the folder are ignored.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm"})
#: Smallest short side evaluated (SSIM needs a 7x7 window; the pipeline renders at least 8 px).
MIN_SIDE = 8
#: What PIL raises for a file that is not a readable image.
READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class UnreadableImage(ValueError):
    """An image file that cannot be evaluated; the message says why."""


def list_images(folder: str | os.PathLike) -> list[tuple[str, Path]]:
    """Image files under ``folder`` (recursively, hidden ones skipped) as ``(relative posix path, path)``,
    sorted by relative path so every run sees the same order."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"no folder at {root}")
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not any(p.startswith(".") for p in rel.parts):
            found.append((rel.as_posix(), path))
    return sorted(found)


def sample_images(folder: str | os.PathLike, limit: int | None = None, seed: int = 0) -> list[tuple[str, Path]]:
    """:func:`list_images`, or (``limit`` not None) ``limit`` of them drawn at random with ``seed`` (kept in
    sorted order): the same photos on every machine for the same folder, limit and seed."""
    files = list_images(folder)
    if limit is not None and limit < len(files):
        picked = np.random.default_rng(seed).choice(len(files), size=limit, replace=False)
        files = [files[i] for i in sorted(picked)]
    return files


def load_original(path: str | os.PathLike, size: int | None) -> np.ndarray:
    """Read a colour photo -> sRGB ``float32 [H,W,3]`` in ``[0,1]``: EXIF-upright, alpha dropped,
    short side resized to ``size`` and centre-cropped square (or full resolution for ``None``).

    Raises :class:`UnreadableImage` for a damaged, unknown or too small file.
    """
    from chromatize.io import to_rgb_array

    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb, _ = to_rgb_array(image)
    except READ_ERRORS as e:
        raise UnreadableImage(f"{type(e).__name__}: {e}") from e
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise UnreadableImage(f"too small ({rgb.shape[1]}x{rgb.shape[0]} px; at least {MIN_SIDE} px a side)")
    if size is None:
        return rgb
    square = ImageOps.fit(
        Image.fromarray((rgb * 255.0 + 0.5).astype(np.uint8), "RGB"), (size, size), Image.Resampling.BICUBIC
    )
    return np.asarray(square, dtype=np.float32) / 255.0


def gray_input(rgb: np.ndarray) -> np.ndarray:
    """The black-and-white version of a photo: same Lab L, zero chroma, sRGB ``float32 [H,W,3]``."""
    import torch

    from chromatize.color import rgb_to_gray

    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return rgb_to_gray(t).permute(1, 2, 0).numpy()


def model_input(original: np.ndarray, rel: str, degrade: dict | None = None) -> np.ndarray:
    """What the colorizers get for the photo ``original`` (file ``rel``): :func:`gray_input`, or with ``degrade``
    ``{"seed": int, "strength": float}`` a copy degraded like an old print's scan
    (:func:`chromatize.data.degrade.degrade_gray_array`), seeded by ``seed`` and the file's relative path, so
    each photo gets the same damage whatever else is evaluated with it."""
    gray = gray_input(original)
    if degrade is None:
        return gray
    import zlib

    from chromatize.data.degrade import degrade_gray_array

    seed = (int(degrade["seed"]) * 1_000_003 + zlib.crc32(rel.encode())) % (2**63)
    return degrade_gray_array(gray, seed, float(degrade.get("strength", 1.0)))


def to_8bit(rgb: np.ndarray) -> np.ndarray:
    """Float sRGB in ``[0,1]`` -> the same image rounded to 8 bits, still ``float32`` in ``[0,1]``."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0
