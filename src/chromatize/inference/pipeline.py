"""The colorization pipeline for photos: :class:`Colorizer`, the one front for every caller (CLI, server,
evaluation, video).

Three levels, each in its module: the engine (:mod:`chromatize.inference.engine`: one network on a device,
batched tensors), loading (:mod:`chromatize.inference.loading`: names, files, backends) and, here, the
adapters from NumPy arrays and PIL images. A run's settings are resolved once
(:meth:`Colorizer.prepare`, :mod:`chromatize.inference.settings`) and taken as given below.

The photo's L at full resolution is reduced to the render size, the network predicts ab there (with a
mirrored border, padded to its size multiple), and that ab is scaled by the chroma gain and saturation,
upsampled bicubic and joined to the full-resolution L in strips. Colours outside the sRGB gamut are
desaturated at constant luminance, so the output's L channel is the input's up to 8-bit rounding.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from chromatize import color
from chromatize.inference import core
from chromatize.inference.engine import ColorEngine
from chromatize.inference.loading import default_model_name, load_network
from chromatize.inference.settings import LIBRARY_LIMITS, Limits, RunSettings, resolve_settings
from chromatize.io import from_rgb_array, image_to_arrays, to_float32

if TYPE_CHECKING:
    from chromatize.hints import Hint


class Colorizer(ColorEngine):
    """Colorize photographs of any size with one network (see :class:`ColorEngine` for the constructor).

    Holds no per-request state: every method may be called from several threads at once.
    """

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike = "default", *, backend: str = "auto", **kwargs
    ) -> "Colorizer":
        """Load a shipped model by name, a checkpoint (``.pt`` / ``.safetensors``) or an ``.onnx`` export by
        path, with ``backend`` ``"auto"``, ``"torch"`` or ``"onnx"`` (:func:`chromatize.inference.loading.load_network`);
        ``kwargs`` as for :class:`ColorEngine` (``device``, ``render_size``, ``chroma_gain``...)."""
        loaded = load_network(name_or_path, backend=backend, device=kwargs.pop("device", "cpu"))
        return cls(**{**loaded, **kwargs})  # a caller's ``name`` wins over the name it was loaded by

    def prepare(
        self, *, render_size: int | None = None, saturation: float = 1.0, hints: "Sequence[Hint]" = (),
        reference: np.ndarray | Image.Image | None = None, limits: Limits = LIBRARY_LIMITS,
    ) -> RunSettings:
        """Resolve and check a run's settings once (:func:`chromatize.inference.settings.resolve_settings`):
        ``render_size`` (None: the weights' own), ``saturation``, ``hints`` and ``reference`` within ``limits``."""
        return resolve_settings(self.readout, model_name=self.name, render_size=render_size, saturation=saturation,
                                hints=hints, reference=reference, limits=limits)

    def _settings(self, settings: RunSettings | None, overrides: dict[str, Any]) -> RunSettings:
        """``settings`` as given, or resolved from the keyword ``overrides`` of a one-off call (render_size,
        saturation, hints, reference: see :meth:`prepare`)."""
        if settings is None:
            return self.prepare(**overrides)
        if overrides:
            raise ValueError(f"pass either resolved settings or {', '.join(overrides)}, not both")
        return settings

    # ------------------------------------------------------------------ NumPy / PIL adapters

    def luminance(self, images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """sRGB arrays ``[H,W,3]`` of one size (``uint8``, ``uint16`` or ``float32`` in ``[0,1]``; gray, toned
        or colour) -> (their normalised L ``[B,1,H,W]`` float32 on the device, converted in strips; their 8-bit
        gray levels ``uint8 [B,1,H,W]`` when every one is an 8-bit gray photo (:func:`gray_plane`), else None).

        The one way photos, video frames and evaluation inputs become L: gray ones through a table of their
        levels, which also feed the render directly (:func:`chromatize.inference.core.render_l`)."""
        planes = [gray_plane(rgb) for rgb in images]
        L = torch.cat([self._l_of(rgb, plane) for rgb, plane in zip(images, planes)])
        if all(p is not None and p.dtype == np.uint8 for p in planes):
            return L, torch.stack([torch.from_numpy(p) for p in planes])[:, None].to(self.device)
        return L, None

    def _l_of(self, rgb: np.ndarray, plane: np.ndarray | None) -> torch.Tensor:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an [H,W,3] array, got shape {rgb.shape}")
        H, W = rgb.shape[:2]
        L = torch.empty(1, 1, H, W, device=self.device)
        rows = core.strip_rows(W)
        with torch.inference_mode():
            for top in range(0, H, rows):
                if plane is not None:
                    L[0, 0, top : top + rows] = color.srgb_gray_to_l(torch.from_numpy(plane[top : top + rows]).to(self.device))
                else:
                    strip = torch.from_numpy(to_float32(rgb[top : top + rows])).to(self.device).permute(2, 0, 1)
                    L[0, :, top : top + rows] = color.rgb_to_l(strip)
        return L

    def l_from_array(self, rgb: np.ndarray) -> torch.Tensor:
        """sRGB ``[H,W,3]`` -> its normalised L ``[1,1,H,W]`` on the device (:meth:`luminance` of one photo)."""
        return self.luminance([rgb])[0]

    def colorize_array(self, rgb: np.ndarray, settings: RunSettings | None = None, *, bits: int = 8,
                       **overrides: Any) -> np.ndarray:
        """sRGB ``[H,W,3]`` (gray or toned) -> colorized sRGB ``uint8 [H,W,3]`` of the same size (``bits=16``:
        ``uint16``, for a photo of more than 8 bits that is written at full precision).

        ``rgb`` is ``float32`` in ``[0,1]``, ``uint8`` or ``uint16`` (full range); 16-bit and float inputs
        keep their precision in L. ``settings``: the run's (:meth:`prepare`), or for a one-off call the
        keywords ``render_size``, ``saturation`` (relative to the model's calibrated ``chroma_gain``: 0 gray,
        1 as shipped, >1 more vivid; colours pushed outside the sRGB gamut are desaturated at constant L),
        ``hints`` (:class:`chromatize.hints.Hint`, in ``rgb``'s pixels) and ``reference`` (a colour photo of a
        similar scene), which guide a network that takes hints.
        """
        settings = self._settings(settings, overrides)
        L, levels = self.luminance([rgb])
        L_small = self.render_tensor(L, settings.render_size, levels)
        ab = self.predict_ab(L_small, self.guidance(L_small, tuple(L.shape[-2:]), settings))
        return _to_image_array(self.compose_tensor(L, ab, settings.saturation, bits))

    def colorize_batch(self, images: Sequence[np.ndarray], settings: RunSettings | None = None,
                       **overrides: Any) -> list[np.ndarray]:
        """Like :meth:`colorize_array` for several arrays (without guidance): those of one size share one
        network call."""
        settings = self._settings(settings, overrides)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, rgb in enumerate(images):
            groups.setdefault(tuple(rgb.shape), []).append(i)
        out: list[np.ndarray | None] = [None] * len(images)
        for indices in groups.values():
            L, levels = self.luminance([images[i] for i in indices])
            rgb = self.colorize_tensor(L, settings, levels)
            for k, i in enumerate(indices):
                out[i] = _to_image_array(rgb[k : k + 1])
        return out

    def predict_chroma(self, rgb: np.ndarray, settings: RunSettings | None = None, **overrides: Any) -> torch.Tensor:
        """sRGB ``[H,W,3]`` -> the network's normalised ab ``[2,h,w]`` at the render size (no gain applied)."""
        settings = self._settings(settings, overrides)
        L, levels = self.luminance([rgb])
        return self.predict_ab(self.render_tensor(L, settings.render_size, levels))[0]

    def apply_chroma(self, rgb: np.ndarray, ab_small: torch.Tensor, *, saturation: float = 1.0) -> np.ndarray:
        """Put normalised ab ``[2,h,w]`` (from :meth:`predict_chroma`), scaled by ``saturation * chroma_gain``
        (``saturation`` >= 0) and resized bicubic, on the full-resolution L of ``rgb [H,W,3]`` -> sRGB ``uint8 [H,W,3]``."""
        saturation = LIBRARY_LIMITS.check_saturation(saturation)
        return _to_image_array(self.compose_tensor(self.l_from_array(rgb), ab_small[None], saturation))

    def colorize(self, image: Image.Image, settings: RunSettings | None = None, **overrides: Any) -> Image.Image:
        """Colorize a PIL image of any mode and size; alpha is kept; returns an RGB(A) image of the same size.

        The image is taken as it is (no EXIF rotation): :func:`chromatize.io.load_image` reads files and uploads.
        ``settings`` or ``render_size``, ``saturation``, ``hints``, ``reference``: see :meth:`colorize_array`.
        """
        rgb, alpha = image_to_arrays(image)
        return from_rgb_array(self.colorize_array(rgb, self._settings(settings, overrides)), alpha)


def gray_plane(rgb: np.ndarray) -> np.ndarray | None:
    """The one gray detection: an sRGB ``[H,W,3]`` ``uint8``/``uint16`` array whose three channels are equal (one
    channel seen three times, as :func:`chromatize.io.load_image` reads a gray file; or equal values, as a
    black-and-white film decodes) -> that channel ``[H,W]``; None for other arrays. A colour photo is told
    apart on a sample of rows before every pixel is compared."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        return None
    plane = rgb[..., 0]
    if rgb.strides[2] != 0:
        sample = rgb[:: max(1, rgb.shape[0] // 16)]
        if not (np.array_equal(sample[..., 0], sample[..., 1]) and np.array_equal(sample[..., 0], sample[..., 2])):
            return None
        if not (np.array_equal(plane, rgb[..., 1]) and np.array_equal(plane, rgb[..., 2])):
            return None
    # A plane PyTorch can take without a warning: positive strides, writable (a copy only where it is not).
    return np.require(plane, requirements=["W"]) if all(s >= 0 for s in plane.strides) else np.ascontiguousarray(plane)


def _to_image_array(rgb: torch.Tensor) -> np.ndarray:
    """sRGB ``uint8``/``uint16 [1,3,H,W]`` from the core (channels-last) -> NumPy ``[H,W,3]`` (no copy on the CPU)."""
    return rgb[0].permute(1, 2, 0).contiguous().cpu().numpy()


def gray_array(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``[H,W,3]`` (any dtype :func:`colorize_array` takes) -> its gray version, ``uint8 [H,W,3]``, same L."""
    out = np.empty(rgb.shape, dtype=np.uint8)
    rows = core.strip_rows(rgb.shape[1])
    for top in range(0, rgb.shape[0], rows):
        strip = torch.from_numpy(to_float32(rgb[top : top + rows])).permute(2, 0, 1)
        out[top : top + rows] = (color.rgb_to_gray(strip).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return out


def colorize(
    image: Image.Image, model: str | os.PathLike | None = None, *, render_size: int | None = None,
    saturation: float = 1.0, hints: "Sequence[Hint]" = (), reference: np.ndarray | Image.Image | None = None,
) -> Image.Image:
    """One-shot helper: ``Colorizer.from_pretrained(model).colorize(image, ...)``; ``model`` defaults to
    ``"default"``, or to ``"hints"`` when hints or a reference are given."""
    model = model or default_model_name(bool(hints) or reference is not None)
    return Colorizer.from_pretrained(model).colorize(image, render_size=render_size, saturation=saturation,
                                                     hints=hints, reference=reference)
