"""The colorization pipeline as it was before the tensor core (commit 111d5ae), frozen as a reference.

``tests/test_core.py`` checks that today's :class:`chromatize.Colorizer` gives the same output, within 1/255
per channel, as this per-image NumPy/PIL implementation. Do not change it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from chromatize import color
from chromatize.io import to_float32
from chromatize.registry import model_info

STRIP_PIXELS = 1 << 19


class LegacyColorizer:
    """The former ``Colorizer`` with its arguments given explicitly."""

    def __init__(self, model, *, render_size: int, border: int, chroma_gain: float):
        self.model, self.info = model.eval(), model_info(model)
        self.device = torch.device("cpu")
        self.render_size, self.border, self.chroma_gain = render_size, border, chroma_gain

    @torch.inference_mode()
    def predict_ab(self, L_norm: torch.Tensor) -> torch.Tensor:
        """Normalised L ``[B,1,h,w]`` -> normalised ab ``[B,2,h,w]``.

        The input is mirrored by ``border`` pixels on every side (and up to the model's size multiple), and
        the prediction cropped back: networks make colour artefacts at image borders and corners (the
        shipped model put a cyan spot in the top-left corner of many photos), which then fall outside.
        """
        m, b = self.info.size_multiple, self.border
        h, w = L_norm.shape[-2:]
        ph, pw = (-(h + 2 * b)) % m, (-(w + 2 * b)) % m
        x = L_norm.to(self.device)
        if b or ph or pw:
            mode = "reflect" if b + ph < h and b + pw < w else "replicate"
            x = F.pad(x, (b, b + pw, b, b + ph), mode=mode)
        out = self.model(x)[..., b : b + h, b : b + w].float()
        if self.info.target == "rgb":
            out = color.rgb_to_l_ab(out.clamp(0, 1))[1]
        return out.cpu()

    def render_shape(self, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
        """(h, w) the network sees for a photo of ``height`` x ``width``: long side ``render_size``."""
        size = int(render_size or self.render_size)
        if size < 8:
            raise ValueError(f"render_size must be at least 8, got {size}")
        scale = size / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    def colorize_array(
        self, rgb: np.ndarray, *, render_size: int | None = None, saturation: float = 1.0
    ) -> np.ndarray:
        """sRGB ``[H,W,3]`` (gray or toned) -> colorized sRGB ``uint8 [H,W,3]`` of the same size.

        ``rgb`` is ``float32`` in ``[0,1]``, ``uint8`` or ``uint16`` (full range); 16-bit and float inputs
        keep their precision in L. ``saturation`` scales the chroma relative to the model's calibrated
        ``chroma_gain`` (0 gray, 1 as shipped, >1 more vivid); colours pushed outside the sRGB gamut are
        desaturated at constant L. Works in strips of rows, so memory beyond the input and output is small
        and bounded.
        """
        return self.apply_chroma(rgb, self.predict_chroma(rgb, render_size=render_size), saturation=saturation)

    def predict_chroma(self, rgb: np.ndarray, *, render_size: int | None = None) -> torch.Tensor:
        """sRGB ``[H,W,3]`` -> the network's normalised ab ``[2,h,w]`` at the render size (no gain applied)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an [H,W,3] array, got shape {rgb.shape}")
        h, w = self.render_shape(*rgb.shape[:2], render_size)
        gray = rgb.strides[2] == 0  # a gray photo as read by chromatize.io: one channel, seen three times
        base = Image.fromarray(_to_uint8(rgb[..., 0] if gray else rgb), "L" if gray else "RGB")
        small = np.asarray(
            base.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0).convert("RGB"), dtype=np.float32
        ) / 255.0
        del base  # the full-resolution 8-bit copy is not needed while the network runs
        L_small = color.rgb_to_l(torch.from_numpy(small).permute(2, 0, 1)[None])
        return self.predict_ab(L_small)[0]

    def apply_chroma(self, rgb: np.ndarray, ab_small: torch.Tensor, *, saturation: float = 1.0) -> np.ndarray:
        """Put normalised ab ``[2,h,w]`` (from :meth:`predict_chroma`), scaled by ``saturation * chroma_gain``
        and resized bicubic, on the full-resolution L of ``rgb [H,W,3]`` -> sRGB ``uint8 [H,W,3]``."""
        H, W = rgb.shape[:2]
        h, w = ab_small.shape[-2:]
        ab_scaled = color.scale_chroma(ab_small, saturation * self.chroma_gain).numpy()
        ab_images = [Image.fromarray(np.ascontiguousarray(c), "F") for c in ab_scaled]
        out = np.empty((H, W, 3), dtype=np.uint8)
        for top in range(0, H, _strip_rows(W)):
            bottom = min(H, top + _strip_rows(W))
            # Bicubic upsampling of just this band; equal to resizing the whole ab map at once.
            box = (0.0, top * h / H, float(w), bottom * h / H)
            ab = np.stack(
                [np.asarray(c.resize((W, bottom - top), Image.Resampling.BICUBIC, box=box)) for c in ab_images]
            )
            strip = torch.from_numpy(to_float32(rgb[top:bottom])).permute(2, 0, 1)[None]
            L = color.rgb_to_l(strip)
            merged = color.l_ab_to_rgb_keep_l(L, torch.from_numpy(ab)[None].clamp(-1, 1))
            out[top:bottom] = (merged[0].permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
        return out


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Any input array -> ``uint8`` of the same shape, converted in strips (no full-size float copy)."""
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    out = np.empty(rgb.shape, dtype=np.uint8)
    rows = _strip_rows(rgb.shape[1])
    for top in range(0, rgb.shape[0], rows):
        out[top : top + rows] = to_float32(rgb[top : top + rows]) * 255.0 + 0.5
    return out


def _strip_rows(width: int) -> int:
    return max(1, STRIP_PIXELS // max(1, width))
