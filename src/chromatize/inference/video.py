"""Colorize video: decode with PyAV, colorize frames in batches through :class:`Colorizer`, keep colours steady
over time (:mod:`chromatize.inference.temporal`), encode.

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
from chromatize.inference import core
from chromatize.inference.pipeline import Colorizer
from chromatize.inference.settings import RunSettings
from chromatize.inference.temporal import MODES, make_filter
from chromatize.io import refuse_inputs

#: Frames colorized together.
DEFAULT_BATCH = 4
#: Constant rate factor: lower is better quality (18 is visually close to lossless for x264 and VP9 alike).
DEFAULT_CRF = 18
#: Encoder by output suffix; anything else gets libx264.
_CODEC_BY_SUFFIX = {".webm": "libvpx-vp9", ".ogv": "libtheora"}
_UNSPECIFIED, _FULL_RANGE = 2, 2  # FFmpeg's AVCOL_SPC_UNSPECIFIED and AVCOL_RANGE_JPEG
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"}


class VideoError(ValueError):
    """A video could not be read or written; the message is one line naming the file and the reason."""


def _require_av():
    try:
        import av
    except ImportError as e:
        raise VideoError("video needs PyAV: pip install 'chromatize[video]'") from e
    return av


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
    av = _require_av()
    in_path, out_path = Path(in_path), Path(out_path)
    if temporal not in MODES:
        raise ValueError(f"temporal mode must be one of {sorted(MODES)}, got {temporal!r}")
    if not in_path.is_file():
        raise FileNotFoundError(f"no such file: {in_path}")
    refuse_inputs(out_path, [in_path])
    if not overwrite and out_path.exists():
        raise FileExistsError(f"{out_path} exists (--overwrite replaces it)")
    codec = codec or _CODEC_BY_SUFFIX.get(out_path.suffix.lower(), "libx264")
    try:
        encoder = av.codec.Codec(codec, "w")
    except Exception:
        raise VideoError(f"unknown video encoder {codec!r} (see `ffmpeg -encoders`; e.g. libx264, libvpx-vp9)") from None
    if encoder.type != "video":
        raise VideoError(f"{codec!r} is not a video encoder")
    start = time.perf_counter()
    try:
        inp = av.open(str(in_path))
    except av.FFmpegError as e:
        raise VideoError(f"{in_path}: not a video, or damaged or truncated ({_reason(e)})") from None
    with inp:
        if _is_still(inp.format.name):
            raise VideoError(f"{in_path} is a still image, not a video: use `chromatize colorize {in_path}`")
        if not inp.streams.video:
            raise VideoError(f"{in_path}: no video stream")
        colorizer = _load_colorizer(model, device, backend)
        settings = colorizer.prepare(render_size=render_size, saturation=saturation)  # checked before any frame
        vin = inp.streams.video[0]
        if vin.codec_context is None:
            raise VideoError(f"{in_path}: unsupported video codec")
        vin.thread_type = "AUTO"
        audio_in = list(inp.streams.audio)
        rate = vin.average_rate or vin.guessed_rate  # read while open: PyAV 19 refuses once the container is closed
        filt = make_filter(temporal)
        with atomic_path(out_path, overwrite=overwrite) as tmp:
            writer = _Writer(av, tmp, out_path, vin, audio_in, encoder.name, crf, preset)
            ok = False
            try:
                frames = _decode(av, inp, vin, audio_in, writer, in_path)
                if progress:
                    from tqdm import tqdm

                    frames = tqdm(frames, total=vin.frames or None, unit="frame", desc=in_path.name, leave=True)
                colored = colorize_frames(
                    (rgb for rgb, _ in _with_meta(frames, writer)), colorizer, settings=settings,
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


def _is_still(demuxer: str) -> bool:
    """Whether FFmpeg read the file with a still-image demuxer (``image2``, ``jpeg_pipe``, ``png_pipe``...),
    whatever the file's suffix; animated GIF (``gif``) and the video containers are not."""
    return demuxer == "image2" or demuxer.endswith("_pipe")


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _with_meta(frames, writer: "_Writer"):
    """Pass decoded ``(rgb, frame)`` pairs through, queueing each frame's timestamp for the writer."""
    for rgb, frame in frames:
        writer.queue(frame)
        yield rgb, frame


def _decode(av, inp, vin, audio_in, writer: "_Writer", in_path: Path):
    """Yield ``(rgb uint8 [H,W,3], av.VideoFrame)`` for each frame of ``vin``; audio packets go to ``writer``."""
    n = 0
    try:
        for packet in inp.demux(vin, *audio_in):
            if packet.stream.type == "video":
                for frame in packet.decode():
                    n += 1
                    yield _to_rgb(frame), frame
            elif packet.dts is not None:
                writer.audio(packet)
    except av.FFmpegError as e:
        raise VideoError(f"{in_path}: damaged or truncated video after {n} frames ({_reason(e)})") from None
    if vin.frames and n < vin.frames:
        raise VideoError(f"{in_path}: truncated: {n} of {vin.frames} frames could be decoded")


def _to_rgb(frame) -> np.ndarray:
    """A decoded frame -> sRGB ``uint8 [H,W,3]`` in stored orientation, with its own colour matrix and range."""
    full = frame.color_range == _FULL_RANGE
    return frame.to_ndarray(format="rgb24", **({"src_color_range": _FULL_RANGE} if full else {}))


class _Writer:
    """Output container: the video stream is set up from the first decoded frame (its display matrix), audio
    packets that arrive before that wait, then are copied."""

    def __init__(self, av, tmp: Path, out_path: Path, vin, audio_in, codec: str, crf: int, preset: str | None):
        self.av, self.vin, self.out_path = av, vin, out_path
        self.codec, self.crf, self.preset = codec, crf, preset
        try:
            self.container = av.open(str(tmp), "w")
        except (av.FFmpegError, ValueError) as e:  # e.g. an unknown suffix
            raise VideoError(f"{out_path}: cannot write this kind of file ({_reason(e)}; use .mp4, .mkv, .mov "
                             "or .webm)") from None
        self.audio_in = audio_in
        self.audio_out: dict[int, object] = {}
        self.pending_audio: list = []
        self.pending_meta: list = []
        self.video = None
        self.frames = 0
        self.width = self.height = 0
        self._last_pts: int | None = None

    def _open(self, first) -> None:
        av, vin = self.av, self.vin
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        try:
            vs = self.container.add_stream(self.codec, rate=rate)
        except (av.FFmpegError, ValueError) as e:
            raise VideoError(f"{self.out_path}: cannot write {self.codec} here ({_reason(e)})") from None
        self.width, self.height = first.width, first.height
        vs.width, vs.height = first.width, first.height
        formats = [f.name for f in (vs.codec_context.codec.video_formats or [])]
        even = first.width % 2 == 0 and first.height % 2 == 0
        vs.pix_fmt = "yuv420p" if even and (not formats or "yuv420p" in formats) else (
            "yuv444p" if "yuv444p" in formats else formats[0])
        vs.time_base = vin.time_base
        vs.codec_context.time_base = vin.time_base
        ctx_in = vin.codec_context
        for attr in ("color_primaries", "color_trc", "colorspace", "color_range", "sample_aspect_ratio"):
            value = getattr(ctx_in, attr, None)
            if value:
                try:
                    setattr(vs.codec_context, attr, value)
                except (AttributeError, TypeError, ValueError):
                    pass
        options = {}
        if self.codec in _CRF_CODECS:
            options["crf"] = str(self.crf)
            if self.codec == "libvpx-vp9":
                options["b"] = "0"
        if self.codec in ("libx264", "libx265"):
            options["preset"] = self.preset or "veryfast"
        vs.codec_context.options = options
        matrix = _display_matrix(first)
        if matrix is not None:
            vs.set_display_matrix(matrix)
        for a in self.audio_in:
            try:
                self.audio_out[a.index] = self.container.add_stream_from_template(a)
            except (av.FFmpegError, ValueError) as e:
                raise VideoError(
                    f"{self.out_path}: cannot copy {a.codec_context.name} audio into this container "
                    f"({_reason(e)}); try .mkv") from None
        self.video = vs
        for packet in self.pending_audio:
            self._mux_audio(packet)
        self.pending_audio = []

    def queue(self, frame) -> None:
        if self.video is None:
            self._open(frame)
        self.pending_meta.append((frame.pts, frame.time_base))

    def audio(self, packet) -> None:
        if self.video is None:
            self.pending_audio.append(packet)
        else:
            self._mux_audio(packet)

    def _mux_audio(self, packet) -> None:
        packet.stream = self.audio_out[packet.stream.index]
        try:
            self.container.mux(packet)
        except self.av.FFmpegError as e:
            raise VideoError(f"{self.out_path}: cannot copy audio ({_reason(e)})") from None

    def write(self, rgb: np.ndarray) -> None:
        pts, time_base = self.pending_meta.pop(0)
        if pts is None:  # no timestamp from the decoder: one frame period after the previous one
            period = 1 / (self.vin.average_rate or Fraction(25)) / self.vin.time_base
            pts = 0 if self._last_pts is None else self._last_pts + max(1, round(period))
        self._last_pts = pts
        frame = self.av.VideoFrame.from_ndarray(rgb, format="rgb24")
        ctx = self.video.codec_context
        kwargs = {"dst_colorspace": ctx.colorspace} if ctx.colorspace not in (None, _UNSPECIFIED) else {}
        if ctx.color_range == _FULL_RANGE:
            kwargs["dst_color_range"] = _FULL_RANGE
        frame = frame.reformat(format=self.video.pix_fmt, **kwargs)
        frame.pts, frame.time_base = pts, self.vin.time_base
        self._mux(self.video.encode(frame))
        self.frames += 1

    def _mux(self, packets) -> None:
        try:
            self.container.mux(packets)
        except self.av.FFmpegError as e:
            raise VideoError(f"{self.out_path}: writing failed ({_reason(e)})") from None

    def finish(self) -> None:
        if self.video is not None:
            self._mux(self.video.encode(None))

    def close(self, quiet: bool = False) -> None:
        """Close the file; ``quiet`` (after an error, when the file is thrown away) ignores errors in closing."""
        try:
            self.container.close()
        except Exception:
            if not quiet:
                raise


def _display_matrix(frame) -> list[int] | None:
    """The frame's display matrix (rotation/flip) as FFmpeg's 9 int32, or ``None`` when it has none."""
    for sd in frame.side_data:
        if "DISPLAYMATRIX" in str(getattr(sd, "type", "")):
            values = np.frombuffer(bytes(sd), dtype="<i4")
            return [int(v) for v in values[:9]] if values.size >= 9 else None
    return None
