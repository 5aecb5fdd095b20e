"""Writing 16-bit colour PNG and TIFF, which Pillow cannot hold (it has no 16-bit RGB mode).

A photo read at more than 8 bits (:func:`chromatize.io.load_image` gives ``uint16`` or ``float32``) is
colorized at 16 bits and written here: PNG with pypng, TIFF with tifffile, both atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from chromatize.fsutil import atomic_path
from chromatize.io import Inputs, refuse_inputs
from chromatize.metadata import ImageMeta, png_chunks, tiff_options

#: Output suffixes that hold 16 bits per channel.
DEEP_SUFFIXES = (".png", ".tif", ".tiff")


def save_rgb16(
    rgb: np.ndarray, path: str | os.PathLike, *, alpha: np.ndarray | None = None, overwrite: bool = True,
    protect: Inputs | Iterable[str | os.PathLike] = (), meta: ImageMeta | None = None,
) -> Path:
    """Write sRGB ``uint16 [H,W,3]`` (0-65535; + optional alpha ``uint8 [H,W]``, stored as 16 bits) to a
    ``.png`` / ``.tif`` / ``.tiff`` ``path`` atomically. ``protect``: paths (the inputs) never written;
    ``meta``: EXIF, DPI and ICC profile to keep (:mod:`chromatize.metadata` says what each format holds)."""
    path = Path(path)
    if rgb.dtype != np.uint16 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint16 [H,W,3] array, got {rgb.dtype} {rgb.shape}")
    if path.suffix.lower() not in DEEP_SUFFIXES:
        raise ValueError(f"cannot write 16 bits per channel to {path} (use {', '.join(DEEP_SUFFIXES)})")
    refuse_inputs(path, protect)
    data = rgb if alpha is None else np.concatenate([rgb, (alpha.astype(np.uint16) * 257)[..., None]], axis=2)
    data = np.ascontiguousarray(data)
    with atomic_path(path, overwrite=overwrite) as tmp:
        if path.suffix.lower() == ".png":
            _write_png(tmp, data, meta)
        else:
            _write_tiff(tmp, data, meta)
    return path


def _write_png(tmp: Path, data: np.ndarray, meta: ImageMeta | None) -> None:
    import io

    import png

    H, W, planes = data.shape
    buffer = io.BytesIO()
    png.Writer(W, H, greyscale=False, alpha=planes == 4, bitdepth=16).write_array(buffer, data.reshape(-1))
    chunks = list(png.Reader(bytes=buffer.getvalue()).chunks())
    chunks[1:1] = png_chunks(meta)  # after IHDR, before the image data
    with open(tmp, "wb") as f:
        png.write_chunks(f, chunks)


def _write_tiff(tmp: Path, data: np.ndarray, meta: ImageMeta | None) -> None:
    import tifffile

    extra = {"extrasamples": ("unassalpha",)} if data.shape[2] == 4 else {}
    tifffile.imwrite(tmp, data, photometric="rgb", metadata=None, **extra, **tiff_options(meta))
