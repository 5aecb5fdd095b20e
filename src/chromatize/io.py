"""Reading and writing images. (Minimal first version; see the issue on input handling.)

Arrays are ``float32 [H,W,3]`` sRGB in ``[0,1]``; alpha, when present, is ``uint8 [H,W]``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_rgb_array(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image of any mode -> (sRGB ``float32 [H,W,3]`` in ``[0,1]``, alpha ``uint8 [H,W]`` or None)."""
    alpha = None
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3].copy()
        image = rgba.convert("RGB")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return rgb, alpha


def from_rgb_array(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """sRGB ``uint8 [H,W,3]`` or float in ``[0,1]`` (+ optional alpha ``uint8 [H,W]``) -> PIL image."""
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha, "L"))
    return image
