"""Temporal consistency for video: keep predicted colours steady from frame to frame.

Everything here works at the network's render size, on one frame at a time of a stream:

- ``L`` is normalised luminance ``[1,h,w]`` (``chromatize.color.rgb_to_l``: about ``[-1,1]``),
- ``ab`` is the network's normalised chroma ``[2,h,w]`` for that frame (``Colorizer.predict_chroma``, no gain).

A filter is created per stream (it keeps the previous frame) and turns each frame's predicted ``ab`` into the
``ab`` that is shown. :data:`MODES` maps the names the CLI offers to their filters:

- ``off``: frame by frame, the prediction unchanged (the baseline);
- ``average``: a plain exponential moving average over time, without motion compensation (a baseline that
  smears colour across moving things and cuts);
- ``auto``: :class:`FlowPropagation`, motion-compensated propagation (the default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

#: OpenCV DIS optical-flow presets by name.
_DIS_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


def _require_cv2():
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "temporal consistency needs OpenCV: pip install 'chromatize[video]' (opencv-python-headless)"
        ) from e
    return cv2


def _check_frame(L: torch.Tensor, ab: torch.Tensor) -> None:
    if L.dim() != 3 or L.shape[0] != 1 or ab.dim() != 3 or ab.shape[0] != 2 or L.shape[1:] != ab.shape[1:]:
        raise ValueError(f"expected L [1,h,w] and ab [2,h,w] of one size, got {tuple(L.shape)} and {tuple(ab.shape)}")


class FrameByFrame:
    """``--temporal off``: each frame's prediction as it is."""

    def __init__(self) -> None:
        self.cuts: list[int] = []

    def step(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Normalised L ``[1,h,w]``, predicted ab ``[2,h,w]`` -> the ab to show ``[2,h,w]`` (here: ``ab``)."""
        _check_frame(L, ab)
        return ab


class MovingAverage:
    """A plain exponential moving average of the predicted ab over time, pixel by pixel, no motion compensation
    and no cut detection: ``out_t = (1 - strength) * ab_t + strength * out_{t-1}``. A baseline to compare with."""

    def __init__(self, strength: float | None = None) -> None:
        """``strength``: weight of the past, default that of :class:`FlowSettings` (the same memory as ``auto``)."""
        strength = FlowSettings.strength if strength is None else strength
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {strength}")
        self.strength = float(strength)
        self.cuts: list[int] = []
        self._prev: torch.Tensor | None = None

    def step(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Normalised L ``[1,h,w]``, predicted ab ``[2,h,w]`` -> the averaged ab ``[2,h,w]``."""
        _check_frame(L, ab)
        if self._prev is not None and self._prev.shape == ab.shape:
            ab = torch.lerp(ab, self._prev.to(ab.device, ab.dtype), self.strength)
        self._prev = ab
        return ab


@dataclass(frozen=True)
class FlowSettings:
    """Parameters of :class:`FlowPropagation` (lengths in render-size pixels, L in normalised units: 0.02 = 1 L).

    strength: weight of the propagated colour where the warp is fully reliable; the blend is
        ``out = ab + strength * confidence * (warped_prev_out - ab)``, an exponential filter along motion paths
        (remembers about ``1 / (1 - strength)`` frames).
    flow_tolerance: forward-backward flow disagreement (px) at which confidence falls to ``1/e``.
    luma_tolerance: luminance error after warping (normalised, global brightness change removed) at which
        confidence falls to ``1/e``.
    cut_threshold: mean luminance error after warping above which the frame starts a new scene (state reset).
    preset: DIS optical-flow preset (``ultrafast``, ``fast``, ``medium``).
    """

    strength: float = 0.92
    flow_tolerance: float = 2.0
    luma_tolerance: float = 0.12
    cut_threshold: float = 0.12
    preset: str = "fast"

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {self.strength}")
        if self.flow_tolerance <= 0 or self.luma_tolerance <= 0 or self.cut_threshold <= 0:
            raise ValueError("flow_tolerance, luma_tolerance and cut_threshold must be > 0")
        if self.preset not in _DIS_PRESETS:
            raise ValueError(f"preset must be one of {sorted(_DIS_PRESETS)}, got {self.preset!r}")


@dataclass
class _State:
    gray: np.ndarray  # uint8 [h,w]: the previous frame's luminance, as the flow sees it
    L: np.ndarray  # float32 [h,w]: its normalised L
    ab: np.ndarray  # float32 [h,w,2]: the ab shown for it


def luma_u8(L: torch.Tensor) -> np.ndarray:
    """Normalised L ``[1,h,w]`` (about ``[-1,1]``) -> ``uint8 [h,w]`` (0 black, 255 white), what the flow sees."""
    return ((L[0].float().cpu().numpy() + 1.0) * 127.5).clip(0, 255).round().astype(np.uint8)


def warp(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``image [h,w]`` or ``[h,w,C]`` at ``x + flow(x)`` (``flow [h,w,2]`` as ``(dx, dy)`` in pixels),
    bilinear. Returns ``(warped, inside)``: the warped image and a ``bool [h,w]`` mask of where ``x + flow(x)``
    lies inside the image (elsewhere the values are edge pixels and should not be trusted)."""
    cv2 = _require_cv2()
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    inside = (mx >= -0.5) & (mx <= w - 0.5) & (my >= -0.5) & (my <= h - 0.5)
    warped = cv2.remap(image, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped, inside


@dataclass
class FlowPropagation:
    """Motion-compensated propagation of chroma (``--temporal auto``).

    For each frame: dense optical flow (OpenCV DIS) from the current frame to the previous one and back; the
    previous frame's *shown* ab is warped onto the current frame and blended with the current prediction with
    weight ``strength * confidence``. Confidence is high where the forward and backward flows agree and the
    warped previous luminance matches the current one (after removing a global brightness change, so film
    flicker is not mistaken for motion); it is zero where the previous frame has no pixel (edges of a pan) and low
    at occlusions and new objects, so those take the current prediction. A frame whose mean luminance error
    after warping exceeds ``cut_threshold`` is a scene cut: the state is reset and the frame shows its own
    prediction. The frame indices of cuts are kept in ``cuts`` (nothing else grows with the stream).
    """

    settings: FlowSettings = field(default_factory=FlowSettings)
    cuts: list[int] = field(default_factory=list)
    #: Mean confidence of the last frame (0 for the first frame and cuts): how much of it was propagated.
    confidence: float = 0.0

    def __post_init__(self) -> None:
        cv2 = _require_cv2()
        self._dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[self.settings.preset])
        self._state: _State | None = None
        self._index = 0

    def reset(self) -> None:
        """Forget the previous frame (the next one is shown as predicted)."""
        self._state = None

    def step(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """Normalised L ``[1,h,w]``, predicted ab ``[2,h,w]`` -> the ab to show ``[2,h,w]`` (same device, dtype)."""
        _check_frame(L, ab)
        s = self.settings
        gray, L_np = luma_u8(L), L[0].float().cpu().numpy()
        ab_np = np.ascontiguousarray(ab.float().cpu().numpy().transpose(1, 2, 0))
        index, self._index = self._index, self._index + 1
        prev = self._state
        if prev is None or prev.gray.shape != gray.shape:
            out, conf_mean = ab_np, 0.0
        else:
            back = self._dis.calc(gray, prev.gray, None)  # current pixel x is at x + back(x) in the previous frame
            fwd = self._dis.calc(prev.gray, gray, None)
            fwd_at, inside = warp(fwd, back)
            fb_err = np.linalg.norm(back + fwd_at, axis=2)
            L_prev, _ = warp(prev.L, back)
            diff = L_np - L_prev
            luma_err = np.abs(diff - float(np.median(diff[inside]) if inside.any() else 0.0))
            if not inside.any() or float(luma_err[inside].mean()) > s.cut_threshold:
                self.cuts.append(index)
                out, conf_mean = ab_np, 0.0
            else:
                conf = np.exp(-((fb_err / s.flow_tolerance) ** 2) - (luma_err / s.luma_tolerance) ** 2) * inside
                ab_prev, _ = warp(prev.ab, back)
                weight = (s.strength * conf)[..., None].astype(np.float32)
                out = ab_np + weight * (ab_prev - ab_np)
                conf_mean = float(conf.mean())
        self.confidence = conf_mean
        self._state = _State(gray=gray, L=L_np, ab=out)
        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))).to(ab.device, ab.dtype)


#: ``--temporal`` choices -> a factory of a fresh per-stream filter.
MODES = {"auto": FlowPropagation, "off": FrameByFrame, "average": MovingAverage}


def make_filter(mode: str):
    """A new per-stream filter for ``mode`` (a key of :data:`MODES`)."""
    try:
        return MODES[mode]()
    except KeyError:
        raise ValueError(f"temporal mode must be one of {sorted(MODES)}, got {mode!r}") from None
