"""The colorization pipeline: predict chroma at a render size, put it on the photo's own luminance.

:class:`Colorizer` is the one front for every caller (CLI, server, evaluation, video). Its core works on
batched tensors on its device (:mod:`chromatize.inference.core`): the photo's L at full resolution is
reduced to the render size (long side ``render_size``), the network predicts ab there (with a mirrored
border, padded to its size multiple), and that ab is scaled by the chroma gain and saturation, upsampled
bicubic and joined to the full-resolution L in strips. Colours outside the sRGB gamut are desaturated at
constant luminance, so the output's L channel is the input's up to 8-bit rounding. NumPy arrays and PIL
images are thin adapters around it (:meth:`Colorizer.l_from_array`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from torch import nn

from chromatize import color
from chromatize.checkpoint import check_render_size, load_model, model_readout, resolve_weights
from chromatize.devices import resolve_device
from chromatize.inference import BACKENDS, core
from chromatize.io import from_rgb_array, image_to_arrays, to_float32
from chromatize.registry import model_info, unwrap_model

if TYPE_CHECKING:
    from chromatize.hints import Hint
    from chromatize.inference.onnx import OnnxNetwork


class Colorizer:
    """Colorize photographs of any size with one network.

    Holds no per-request state: every method may be called from several threads at once.
    """

    def __init__(
        self,
        model: "nn.Module | OnnxNetwork",
        *,
        render_size: int | None = None,
        device: str | torch.device = "cpu",
        chroma_gain: float | None = None,
        border: int | None = None,
        flip: bool | None = None,
        weights: str | os.PathLike | None = None,
    ):
        """``model``: a registered colorizer network, or an :class:`chromatize.inference.onnx.OnnxNetwork`;
        ``weights``: the checkpoint it was made from, when known (an ONNX network's encoder is read from it to
        match reference photos).
        ``render_size``, ``chroma_gain`` and ``border`` default to what its weights file says
        (:class:`chromatize.checkpoint.Readout`): ``chroma_gain`` is the factor on the predicted chroma that
        ``saturation=1`` means; ``border`` the pixels of mirrored context the network sees around the photo;
        ``flip`` averages each prediction with that of the mirrored photo (twice the network's work)."""
        if isinstance(model, nn.Module):
            self.info, base = model_info(model), model_readout(model)
        else:  # an exported network describes itself
            self.info, base = model.info, model.readout
        if self.info.kind != "colorizer":
            raise ValueError(f"{self.info.name!r} is a {self.info.kind}, not a colorizer")
        self.readout = base.with_changes(render_size=render_size, border=border, chroma_gain=chroma_gain, flip=flip)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.weights = weights
        self._reference_encoder: nn.Module | None = None  # built on first use (immutable once built)
        self.render_shape(1, 1)  # refuses a render size out of range now, not at the first photo

    @property
    def render_size(self) -> int:
        return self.readout.render_size

    @property
    def border(self) -> int:
        return self.readout.border

    @property
    def chroma_gain(self) -> float:
        return self.readout.chroma_gain

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike = "default", *, backend: str = "auto", **kwargs
    ) -> "Colorizer":
        """Load a shipped model by name, a checkpoint (``.pt`` / ``.safetensors``) or an ``.onnx`` export by path.

        ``backend``: ``"torch"``, ``"onnx"`` (ONNX Runtime; a checkpoint is exported once to a cache) or
        ``"auto"``: ONNX Runtime on the CPU when the ``[onnx]`` extra is installed (it is the faster one, see
        ``benchmarks/bench_core.py``), else PyTorch. An ``.onnx`` file always runs on ONNX Runtime.
        """
        from chromatize.inference import onnx

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        path = resolve_weights(name_or_path)
        if path.suffix == ".onnx" and backend == "torch":
            raise ValueError(f"{path} is an ONNX file: it runs with backend onnx (or auto)")
        device = resolve_device(kwargs.pop("device", "cpu"))
        if backend == "auto":
            # ONNX Runtime on the CPU (hint networks too: their prior is built in the core, outside the graph).
            faster = path.suffix == ".onnx" or (device.type == "cpu" and onnx.onnx_available())
            backend = "onnx" if faster else "torch"
        if backend == "onnx":
            return cls(onnx.OnnxNetwork(onnx.cached_onnx(path), device), device=device, weights=path, **kwargs)
        return cls(load_model(path), device=device, weights=path, **kwargs)

    # ------------------------------------------------------------------ the tensor core

    def render_shape(self, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
        """(h, w) the network sees for a photo of ``height`` x ``width``: long side ``render_size`` (None: the
        colorizer's own; see :func:`chromatize.checkpoint.check_render_size`)."""
        size = check_render_size(self.render_size if render_size is None else render_size)
        return core.render_shape(height, width, size)

    @torch.inference_mode()
    def predict_ab(self, L_small: torch.Tensor, extra: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Normalised L ``[B,1,h,w]`` at the render size -> the network's normalised ab ``[B,2,h,w]`` (float32,
        on the colorizer's device, no gain applied). ``extra``: the other inputs the network declares
        (``readout.inputs``, e.g. ``"hints"``); missing ones take their defaults (no hints)."""
        r = self.readout
        return core.run_network(self.model, L_small.to(self.device), inputs=r.inputs, target=r.target,
                                border=r.border, multiple=r.size_multiple, extra=extra, flip=r.flip)

    @torch.inference_mode()
    def predict_chroma_tensor(
        self, L: torch.Tensor, *, render_size: int | None = None, extra: dict[str, torch.Tensor] | None = None,
        levels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Full-resolution normalised L ``[B,1,H,W]`` -> normalised ab ``[B,2,h,w]`` at the render size.

        ``levels``: the photo as 8-bit gray levels, ``uint8 [B,1,H,W]``, when the caller has them (saves
        computing them from L; see :func:`chromatize.inference.core.render_l`)."""
        return self.predict_ab(self.render_tensor(L, render_size=render_size, levels=levels), extra)

    @torch.inference_mode()
    def render_tensor(self, L: torch.Tensor, *, render_size: int | None = None, levels: torch.Tensor | None = None) -> torch.Tensor:
        """Full-resolution normalised L ``[B,1,H,W]`` -> normalised L ``[B,1,h,w]`` at the render size, on the
        device (:func:`chromatize.inference.core.render_l`; ``levels`` as in :meth:`predict_chroma_tensor`)."""
        size = self.render_shape(*L.shape[-2:], render_size)
        return core.render_l(L.to(self.device), size, None if levels is None else levels.to(self.device))

    @torch.inference_mode()
    def compose_tensor(
        self, L: torch.Tensor, ab_small: torch.Tensor, *, saturation: float = 1.0, bits: int = 8
    ) -> torch.Tensor:
        """Normalised L ``[B,1,H,W]`` and ab ``[B,2,h,w]`` (from :meth:`predict_chroma_tensor`) -> sRGB
        ``uint8 [B,3,H,W]`` (``bits=16``: ``uint16``) on the device: ab times ``saturation * chroma_gain``,
        upsampled, on L."""
        if not saturation >= 0:
            raise ValueError(f"saturation must be >= 0, got {saturation}")
        return core.compose(L.to(self.device), ab_small, saturation * self.chroma_gain, bits)

    def colorize_tensor(
        self, L: torch.Tensor, *, render_size: int | None = None, saturation: float = 1.0,
        extra: dict[str, torch.Tensor] | None = None, levels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Normalised L ``[B,1,H,W]`` (frames or photos of one size) -> sRGB ``uint8 [B,3,H,W]``, one network call."""
        ab = self.predict_chroma_tensor(L, render_size=render_size, extra=extra, levels=levels)
        return self.compose_tensor(L, ab, saturation=saturation)

    @property
    def takes_hints(self) -> bool:
        """Whether the network takes colour hints (declares the ``hints`` input)."""
        return "hints" in self.readout.inputs

    def hint_input(
        self, L_small: torch.Tensor, image_size: tuple[int, int], *, hints: "Sequence[Hint]" = (),
        reference: np.ndarray | Image.Image | None = None,
    ) -> dict[str, torch.Tensor] | None:
        """User hints (in the pixels of a photo of ``image_size`` (H, W)) and/or a colour reference photo for
        that photo, whose normalised L at the render size is ``L_small [1,1,h,w]`` (:meth:`render_tensor`) ->
        the ``extra`` inputs of :meth:`predict_ab` (``{"hints": [1,3,h,w]}``, and with a reference its colours
        aligned to the photo, ``"reference_ab" [1,2,h,w]``, and where to lay them over the prediction,
        ``"reference_weight" [1,1,h,w]``), or None when there are neither. Hints derived from the reference
        (:mod:`chromatize.inference.reference`) come first; the user's are drawn over them and win over the
        aligned colours where they reach. Raises :class:`chromatize.hints.HintError` for a hint outside the photo and
        ``ValueError`` when the network takes no hints."""
        if not hints and reference is None:
            return None
        from chromatize.hints import check_hints, hint_tensor, overlay_hints

        if not self.takes_hints:
            raise ValueError(f"model {self.info.name!r} takes no colour hints; use the shipped 'hints' model "
                             "(Colorizer.from_pretrained('hints'))")
        H, W = image_size
        tensor = hint_tensor(check_hints(hints, W, H), (H, W), tuple(L_small.shape[-2:]), self.device)
        if reference is None:
            return {"hints": tensor}
        from chromatize.hint_prior import hint_prior
        from chromatize.inference.reference import reference_guide

        guide = reference_guide(self.reference_encoder(), L_small.to(self.device), _reference_tensor(reference))
        weight = guide.weight
        if hints:  # the user's own hints win over the aligned reference where they reach
            weight = weight * (1.0 - hint_prior(L_small.to(self.device), tensor)[:, 2:3])
        return {"hints": overlay_hints(guide.hints, tensor), "reference_ab": guide.ab, "reference_weight": weight}

    def reference_encoder(self) -> nn.Module:
        """The ImageNet MobileNetV2 whose features match a photo to a reference: the network's own (frozen)
        encoder when it has one (for an ONNX network, read from the checkpoint it was exported from), else one
        built from the ImageNet weights package; built once. ``ValueError`` when there is none."""
        if self._reference_encoder is None:
            self._reference_encoder = self._find_reference_encoder().to(self.device).eval()
        return self._reference_encoder

    def _find_reference_encoder(self) -> nn.Module:
        from chromatize.models.mobilenet import MobileNetV2, mobilenet_encoder

        network = self.model
        if not isinstance(network, nn.Module) and self.weights is not None and Path(self.weights).suffix != ".onnx":
            network = load_model(self.weights)
        encoder = getattr(unwrap_model(network), "encoder", None) if isinstance(network, nn.Module) else None
        if isinstance(encoder, MobileNetV2):
            return encoder
        try:
            return mobilenet_encoder(pretrained=True)
        except (ModuleNotFoundError, FileNotFoundError) as e:
            raise ValueError(f"a reference photo is matched with ImageNet MobileNetV2 features, which model "
                             f"{self.info.name!r} cannot give here (no PyTorch checkpoint of it): {e}") from None

    # ------------------------------------------------------------------ NumPy / PIL adapters

    def l_from_array(self, rgb: np.ndarray) -> torch.Tensor:
        """sRGB ``[H,W,3]`` (``uint8``, ``uint16`` or ``float32`` in ``[0,1]``; gray, toned or colour) -> its
        normalised L ``[1,1,H,W]`` float32 on the device, converted in strips. Gray photos as read by
        :func:`chromatize.io.load_image` (one channel seen three times) go through a table of their levels."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an [H,W,3] array, got shape {rgb.shape}")
        H, W = rgb.shape[:2]
        L = torch.empty(1, 1, H, W, device=self.device)
        gray = rgb.strides[2] == 0 and rgb.dtype in (np.uint8, np.uint16)
        rows = core.strip_rows(W)
        with torch.inference_mode():
            for top in range(0, H, rows):
                part = rgb[top : top + rows]
                if gray:
                    plane = _as_tensor(part[..., 0]).to(self.device)
                    L[0, 0, top : top + rows] = color.srgb_gray_to_l(plane)
                else:
                    strip = torch.from_numpy(to_float32(part)).to(self.device).permute(2, 0, 1)
                    L[0, :, top : top + rows] = color.rgb_to_l(strip)
        return L

    def colorize_array(
        self, rgb: np.ndarray, *, render_size: int | None = None, saturation: float = 1.0,
        hints: "Sequence[Hint]" = (), reference: np.ndarray | Image.Image | None = None, bits: int = 8,
    ) -> np.ndarray:
        """sRGB ``[H,W,3]`` (gray or toned) -> colorized sRGB ``uint8 [H,W,3]`` of the same size (``bits=16``:
        ``uint16``, for a photo of more than 8 bits that is written at full precision).

        ``rgb`` is ``float32`` in ``[0,1]``, ``uint8`` or ``uint16`` (full range); 16-bit and float inputs
        keep their precision in L. ``saturation`` scales the chroma relative to the model's calibrated
        ``chroma_gain`` (0 gray, 1 as shipped, >1 more vivid); colours pushed outside the sRGB gamut are
        desaturated at constant L. ``hints`` (:class:`chromatize.hints.Hint`, in ``rgb``'s pixels) and
        ``reference`` (a colour photo of a similar scene) guide a network that takes hints.
        """
        L = self.l_from_array(rgb)
        L_small = self.render_tensor(L, render_size=render_size, levels=_gray_levels(rgb))
        ab = self.predict_ab(L_small, self.hint_input(L_small, L.shape[-2:], hints=hints, reference=reference))
        return _to_image_array(self.compose_tensor(L, ab, saturation=saturation, bits=bits))

    def colorize_batch(
        self, images: Sequence[np.ndarray], *, render_size: int | None = None, saturation: float = 1.0
    ) -> list[np.ndarray]:
        """Like :meth:`colorize_array` for several arrays: those of one size share one network call."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, rgb in enumerate(images):
            groups.setdefault(tuple(rgb.shape), []).append(i)
        out: list[np.ndarray | None] = [None] * len(images)
        for indices in groups.values():
            L = torch.cat([self.l_from_array(images[i]) for i in indices])
            levels = [_gray_levels(images[i]) for i in indices]
            levels = torch.cat(levels) if all(v is not None for v in levels) else None
            rgb = self.colorize_tensor(L, render_size=render_size, saturation=saturation, levels=levels)
            for k, i in enumerate(indices):
                out[i] = _to_image_array(rgb[k : k + 1])
        return out

    def predict_chroma(self, rgb: np.ndarray, *, render_size: int | None = None) -> torch.Tensor:
        """sRGB ``[H,W,3]`` -> the network's normalised ab ``[2,h,w]`` at the render size (no gain applied)."""
        return self.predict_chroma_tensor(self.l_from_array(rgb), render_size=render_size, levels=_gray_levels(rgb))[0]

    def apply_chroma(self, rgb: np.ndarray, ab_small: torch.Tensor, *, saturation: float = 1.0) -> np.ndarray:
        """Put normalised ab ``[2,h,w]`` (from :meth:`predict_chroma`), scaled by ``saturation * chroma_gain``
        and resized bicubic, on the full-resolution L of ``rgb [H,W,3]`` -> sRGB ``uint8 [H,W,3]``."""
        return _to_image_array(self.compose_tensor(self.l_from_array(rgb), ab_small[None], saturation=saturation))

    def colorize(
        self, image: Image.Image, *, render_size: int | None = None, saturation: float = 1.0,
        hints: "Sequence[Hint]" = (), reference: np.ndarray | Image.Image | None = None,
    ) -> Image.Image:
        """Colorize a PIL image of any mode and size; alpha is kept; returns an RGB(A) image of the same size.

        The image is taken as it is (no EXIF rotation): :func:`chromatize.io.load_image` reads files and uploads.
        ``hints`` / ``reference``: see :meth:`colorize_array`.
        """
        rgb, alpha = image_to_arrays(image)
        out = self.colorize_array(rgb, render_size=render_size, saturation=saturation, hints=hints, reference=reference)
        return from_rgb_array(out, alpha)


def _reference_tensor(reference: np.ndarray | Image.Image) -> torch.Tensor:
    """A reference photo (PIL image, or sRGB array ``[H,W,3]`` uint8/uint16/float) -> ``float32 [1,3,H,W]`` in [0,1]."""
    rgb = image_to_arrays(reference)[0] if isinstance(reference, Image.Image) else reference
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("reference must be a PIL image or an [H,W,3] sRGB array")
    return torch.from_numpy(np.ascontiguousarray(to_float32(rgb))).permute(2, 0, 1)[None]


def _gray_levels(rgb: np.ndarray) -> torch.Tensor | None:
    """A gray 8-bit photo as read by :func:`chromatize.io.load_image` (one channel seen three times) -> its
    levels ``uint8 [1,1,H,W]`` (a view, no copy); None for other arrays (the core derives them from L)."""
    if rgb.ndim == 3 and rgb.strides[2] == 0 and rgb.dtype == np.uint8:
        return _as_tensor(rgb[..., 0])[None, None]
    return None


def _to_image_array(rgb: torch.Tensor) -> np.ndarray:
    """sRGB ``uint8``/``uint16 [1,3,H,W]`` from the core (channels-last) -> NumPy ``[H,W,3]`` (no copy on the CPU)."""
    return rgb[0].permute(1, 2, 0).contiguous().cpu().numpy()


def _as_tensor(a: np.ndarray) -> torch.Tensor:
    """A read-only view of ``a`` as a tensor (a copy where strides are negative, e.g. from a flipped file)."""
    a = a if all(s >= 0 for s in a.strides) else np.ascontiguousarray(a)
    with warnings.catch_warnings():  # the tensor is only read: a read-only array (from PIL) is fine
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(a)


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


def default_model_name(guided: bool) -> str:
    """The shipped model to use when none is named: ``"hints"`` for hints or a reference (when shipped)."""
    from chromatize.checkpoint import shipped_weights

    return "hints" if guided and "hints" in shipped_weights() else "default"
