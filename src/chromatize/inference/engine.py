"""The colorization engine: one network on one device, batched tensors in and out.

:class:`ColorEngine` is the tensor level of :class:`chromatize.Colorizer` (which adds NumPy/PIL adapters and
loading). Shapes and ranges: ``L`` is normalised L (``[-1,1]``, :mod:`chromatize.color`) ``[B,1,H,W]`` at the
photo's full resolution; ``L_small [B,1,h,w]`` the same at the render size (long side ``render_size``);
``ab`` normalised chroma ``[B,2,h,w]`` at the render size; results are sRGB ``uint8``/``uint16 [B,3,H,W]``.
Every value a method takes is resolved (:mod:`chromatize.inference.settings`); none is re-derived here.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import torch
from torch import nn

from chromatize.checkpoint import model_readout
from chromatize.devices import resolve_device
from chromatize.inference import core
from chromatize.registry import model_info

if TYPE_CHECKING:
    from chromatize.inference.onnx import OnnxNetwork
    from chromatize.inference.settings import RunSettings


class ColorEngine:
    """A colorizer network on a device, run as its weights file says (:attr:`readout`).

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
        name: str | None = None,
    ):
        """``model``: a registered colorizer network, or an :class:`chromatize.inference.onnx.OnnxNetwork`;
        ``weights``: the checkpoint it was made from, when known (an ONNX network's encoder is read from it to
        match reference photos); ``name``: the model as the caller named it (messages), default the architecture.
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
        # The weights' settings with the caller's changes, checked once (Readout checks on creation).
        self.readout = base.with_changes(render_size=render_size, border=border, chroma_gain=chroma_gain, flip=flip)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.weights = weights
        self.name = name or self.info.name
        self._reference_encoder: nn.Module | None = None  # built on first use, once (immutable once built)
        self._encoder_lock = threading.Lock()

    @property
    def render_size(self) -> int:
        return self.readout.render_size

    @property
    def border(self) -> int:
        return self.readout.border

    @property
    def chroma_gain(self) -> float:
        return self.readout.chroma_gain

    @property
    def takes_hints(self) -> bool:
        """Whether the network takes colour hints (declares the ``hints`` input)."""
        return "hints" in self.readout.inputs

    def render_shape(self, height: int, width: int, render_size: int) -> tuple[int, int]:
        """(h, w) the network sees for a photo of ``height`` x ``width`` at a resolved ``render_size``."""
        return core.render_shape(height, width, render_size)

    @torch.inference_mode()
    def render_tensor(self, L: torch.Tensor, render_size: int, levels: torch.Tensor | None = None) -> torch.Tensor:
        """Full-resolution L ``[B,1,H,W]`` -> ``L_small [B,1,h,w]`` on the device (:func:`chromatize.inference.core.render_l`;
        ``levels``: the photo as 8-bit gray levels ``uint8 [B,1,H,W]`` when the caller has them)."""
        size = core.render_shape(*L.shape[-2:], render_size)
        return core.render_l(L.to(self.device), size, None if levels is None else levels.to(self.device))

    @torch.inference_mode()
    def predict_ab(self, L_small: torch.Tensor, extra: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``L_small [B,1,h,w]`` -> the network's ab ``[B,2,h,w]`` (float32, on the device, no gain applied).
        ``extra``: the other inputs the network declares (``readout.inputs``, e.g. ``"hints"``; see
        :meth:`guidance`); missing ones take their defaults (no hints)."""
        r = self.readout
        return core.run_network(self.model, L_small.to(self.device), inputs=r.inputs, target=r.target,
                                border=r.border, multiple=r.size_multiple, extra=extra, flip=r.flip)

    @torch.inference_mode()
    def compose_tensor(self, L: torch.Tensor, ab_small: torch.Tensor, saturation: float, bits: int = 8) -> torch.Tensor:
        """``L [B,1,H,W]`` and ab ``[B,2,h,w]`` -> sRGB ``uint8 [B,3,H,W]`` (``bits=16``: ``uint16``) on the
        device: ab times ``saturation * chroma_gain``, upsampled, on L (``saturation`` resolved, >= 0)."""
        return core.compose(L.to(self.device), ab_small, saturation * self.chroma_gain, bits)

    def colorize_tensor(self, L: torch.Tensor, settings: "RunSettings",
                        levels: torch.Tensor | None = None) -> torch.Tensor:
        """``L [B,1,H,W]`` (frames or photos of one size) -> sRGB ``uint8 [B,3,H,W]``, one network call
        (without guidance: hints belong to one photo, see :meth:`guidance`)."""
        ab = self.predict_ab(self.render_tensor(L, settings.render_size, levels))
        return self.compose_tensor(L, ab, settings.saturation)

    def guidance(self, L_small: torch.Tensor, image_size: tuple[int, int],
                 settings: "RunSettings") -> dict[str, torch.Tensor] | None:
        """The run's hints (in the pixels of a photo of ``image_size`` (H, W)) and/or reference photo for the
        photo whose ``L_small`` is ``[1,1,h,w]`` -> the ``extra`` inputs of :meth:`predict_ab`
        (``{"hints": [1,3,h,w]}``, and with a reference its colours aligned to the photo, ``"reference_ab"
        [1,2,h,w]``, and where to lay them over the prediction, ``"reference_weight" [1,1,h,w]``), or None.
        Hints derived from the reference (:mod:`chromatize.inference.reference`) come first; the user's are
        drawn over them and win over the aligned colours where they reach. Raises
        :class:`chromatize.hints.HintError` for hints that do not fit this photo."""
        if not settings.guided:
            return None
        from chromatize.hints import check_hints, hint_tensor, overlay_hints

        H, W = image_size
        tensor = hint_tensor(check_hints(settings.hints, W, H), (H, W), tuple(L_small.shape[-2:]), self.device)
        if settings.reference is None:
            return {"hints": tensor}
        from chromatize.hint_prior import hint_prior
        from chromatize.inference.reference import reference_guide, reference_tensor

        L_small = L_small.to(self.device)
        guide = reference_guide(self.reference_encoder(), L_small, reference_tensor(settings.reference))
        weight = guide.weight
        if settings.hints:  # the user's own hints win over the aligned reference where they reach
            weight = weight * (1.0 - hint_prior(L_small, tensor)[:, 2:3])
        return {"hints": overlay_hints(guide.hints, tensor), "reference_ab": guide.ab, "reference_weight": weight}

    def reference_encoder(self) -> nn.Module:
        """The ImageNet MobileNetV2 whose features match a photo to a reference
        (:func:`chromatize.inference.loading.reference_encoder_for`), built once per engine."""
        if self._reference_encoder is None:
            from chromatize.inference.loading import reference_encoder_for

            with self._encoder_lock:
                if self._reference_encoder is None:
                    self._reference_encoder = reference_encoder_for(self).to(self.device).eval()
        return self._reference_encoder
