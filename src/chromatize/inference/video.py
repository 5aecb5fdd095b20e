"""Colorize video: colorize frames in batches through :class:`Colorizer` and keep colours steady over time
(:mod:`chromatize.inference.temporal`); decoding and encoding are in :mod:`chromatize.inference.video_io`.

Two forms:

- :func:`colorize_frames`: an iterator of sRGB frames in, an iterator of colorized frames out (bring your own
  decoder); streams, so memory does not grow with the number of frames.
- :func:`colorize_video`: a file in, a file out. The output has the input's frame timestamps (hence rate and
  duration), size, sample aspect ratio, colour tags and display matrix (rotation); every audio stream is copied
  packet for packet. It is written to a temporary file beside ``out_path`` and renamed at the end, so an
  interrupted or failed run leaves nothing at ``out_path``; an existing ``out_path`` is kept unless ``overwrite``.

Needs the ``[video]`` extra (``av``, ``opencv-python-headless``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from chromatize.fsutil import atomic_path
from chromatize.inference.pipeline import Colorizer
from chromatize.inference.settings import RunSettings
from chromatize.inference.temporal import MODES, make_filter
from chromatize.inference.video_io import (
    DEFAULT_CRF, VideoError, VideoWriter, decode_frames, input_streams, open_input, pick_encoder, queue_timestamps, require_av,
)
from chromatize.io import refuse_inputs

#: Frames colorized together.
DEFAULT_BATCH = 4


class _FrameColorizer:
    """The one place that calls into :class:`Colorizer` for video: predict chroma for a batch, then compose.

    Frames are sRGB ``uint8 [H,W,3]`` of one size; on the colorizer's device, ``L [B,1,H,W]`` is their
    full-resolution normalised L, ``L_small [B,1,h,w]`` the L the network sees at the render size (what the
    flow sees too) and ``ab [B,2,h,w]`` its normalised prediction (no gain). ``settings``: the run's, resolved once.
    """

    def __init__(self, colorizer: Colorizer, settings: RunSettings):
        self.colorizer = colorizer
        self.settings = settings

    def predict(self, frames: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``B`` frames ``uint8 [H,W,3]`` -> (``L [B,1,H,W]``, ``L_small [B,1,h,w]``, ``ab [B,2,h,w]``): one network
        call. Gray frames (R = G = B, as a black-and-white film decodes) take the photos' gray path
        (:meth:`Colorizer.luminance`)."""
        c = self.colorizer
        L, levels = c.luminance(frames)
        L_small = c.render_tensor(L, self.settings.render_size, levels)
        return L, L_small, c.predict_ab(L_small)

    def compose(self, L: torch.Tensor, ab: torch.Tensor) -> list[np.ndarray]:
        """Full-resolution ``L [B,1,H,W]`` and ab ``[B,2,h,w]`` -> colorized ``uint8 [H,W,3]`` frames (their own L)."""
        rgb = self.colorizer.compose_tensor(L, ab, self.settings.saturation)
        return [frame.permute(1, 2, 0).contiguous().cpu().numpy() for frame in rgb]


def _as_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [H,W,3] or [H,W], got {frame.dtype} {frame.shape}")
    return frame


def _load_colorizer(model: str | os.PathLike | Colorizer, device: str | torch.device, backend: str = "auto") -> Colorizer:
    if isinstance(model, Colorizer):
        return model
    return Colorizer.from_pretrained(model, device=device, backend=backend)


def colorize_frames(
    frames: Iterable[np.ndarray],
    model: str | os.PathLike | Colorizer = "default",
    *,
    render_size: int | None = None,
    saturation: float = 1.0,
    temporal: str = "auto",
    batch_size: int = DEFAULT_BATCH,
    device: str | torch.device = "cpu",
    backend: str = "auto",
    temporal_filter=None,
    settings: RunSettings | None = None,
) -> Iterator[np.ndarray]:
    """Colorize a stream of frames: sRGB ``uint8 [H,W,3]`` (or gray ``[H,W]``) in, ``uint8 [H,W,3]`` out, one for one.

    ``model``: a :class:`Colorizer`, or a shipped model name or checkpoint path loaded on ``device`` with
    ``backend`` (see :meth:`Colorizer.from_pretrained`). ``temporal``: a key of
    :data:`chromatize.inference.temporal.MODES` (``auto`` motion-compensated, ``off`` frame by frame,
    ``average`` a plain moving average); ``temporal_filter`` may pass a filter object instead (to read its
    ``cuts`` afterwards). At most ``batch_size`` frames are held at once: the input is read lazily.
    ``settings``: the run's, already resolved (:meth:`Colorizer.prepare`), instead of ``render_size`` and ``saturation``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    filt = temporal_filter if temporal_filter is not None else make_filter(temporal)
    colorizer = _load_colorizer(model, device, backend)
    adapter = _FrameColorizer(colorizer, settings or colorizer.prepare(render_size=render_size, saturation=saturation))
    batch: list[np.ndarray] = []
    for frame in frames:
        frame = _as_frame(frame)
        if batch and frame.shape != batch[0].shape:  # a batch holds frames of one size
            yield from _run_batch(adapter, filt, batch)
            batch = []
        batch.append(frame)
        if len(batch) == batch_size:
            yield from _run_batch(adapter, filt, batch)
            batch = []
    if batch:
        yield from _run_batch(adapter, filt, batch)


def _run_batch(frames: _FrameColorizer, filt, batch: list[np.ndarray]) -> list[np.ndarray]:
    L, L_small, ab = frames.predict(batch)
    shown = torch.stack([filt.step(L_small[i], ab[i]) for i in range(len(batch))])
    return frames.compose(L, shown)


@dataclass
class VideoResult:
    """What :func:`colorize_video` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    rate: Fraction | None
    audio_streams: int
    seconds: float
    cuts: list[int] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames colorized per second of wall time, decoding and encoding included."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        rate = f"{float(self.rate):.3g} fps" if self.rate else "variable rate"
        audio = f", {self.audio_streams} audio stream(s) copied" if self.audio_streams else ""
        cuts = f", {len(self.cuts)} scene cut(s)" if self.cuts else ""
        return (f"{self.path}: {self.frames} frames {self.width}x{self.height} at {rate}{audio}{cuts}; "
                f"{self.seconds:.1f} s ({self.fps:.1f} frames/s)")


def colorize_video(
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    model: str | os.PathLike | Colorizer = "default",
    *,
    render_size: int | None = None,
    saturation: float = 1.0,
    temporal: str = "auto",
    codec: str | None = None,
    crf: int = DEFAULT_CRF,
    preset: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
    batch_size: int = DEFAULT_BATCH,
    device: str | torch.device = "cpu",
    backend: str = "auto",
) -> VideoResult:
    """Colorize the first video stream of ``in_path`` into ``out_path`` (container from its suffix).

    ``codec``: encoder name (default libx264; libvpx-vp9 for ``.webm``); ``crf``: its constant rate factor;
    ``preset``: x264/x265 speed preset (default ``veryfast``). Raises :class:`VideoError` (one line) for a file that
    is not a video, has no video stream, cannot be decoded, is truncated, or cannot be written in that container;
    :class:`FileExistsError` if ``out_path`` exists and not ``overwrite``. On any error nothing is left at
    ``out_path`` (an existing file there is untouched).
    """
    av = require_av()
    in_path, out_path = Path(in_path), Path(out_path)
    if temporal not in MODES:
        raise ValueError(f"temporal mode must be one of {sorted(MODES)}, got {temporal!r}")
    if not in_path.is_file():
        raise FileNotFoundError(f"no such file: {in_path}")
    refuse_inputs(out_path, [in_path])
    if not overwrite and out_path.exists():
        raise FileExistsError(f"{out_path} exists (--overwrite replaces it)")
    encoder = pick_encoder(av, codec, out_path)
    start = time.perf_counter()
    with open_input(av, in_path) as inp:
        colorizer = _load_colorizer(model, device, backend)
        settings = colorizer.prepare(render_size=render_size, saturation=saturation)  # checked before any frame
        vin, audio_in, rate = input_streams(inp, in_path)
        filt = make_filter(temporal)
        with atomic_path(out_path, overwrite=overwrite) as tmp:
            writer = VideoWriter(av, tmp, out_path, vin, audio_in, encoder, crf, preset)
            ok = False
            try:
                frames = decode_frames(av, inp, vin, audio_in, writer, in_path)
                if progress:
                    from tqdm import tqdm

                    frames = tqdm(frames, total=vin.frames or None, unit="frame", desc=in_path.name, leave=True)
                colored = colorize_frames(
                    (rgb for rgb, _ in queue_timestamps(frames, writer)), colorizer, settings=settings,
                    batch_size=batch_size, temporal_filter=filt,
                )
                for rgb in colored:
                    writer.write(rgb)
                writer.finish()
                ok = True
            finally:
                writer.close(quiet=not ok)
            if writer.frames == 0:
                raise VideoError(f"{in_path}: the video stream has no frames")
    return VideoResult(
        path=out_path, frames=writer.frames, width=writer.width, height=writer.height,
        rate=rate, audio_streams=len(audio_in),
        seconds=time.perf_counter() - start, cuts=list(filt.cuts),
    )


