"""The video container, read and written with PyAV: demux, decode, encode, audio copy, timestamps and tags.

:func:`colorize_video` (in :mod:`chromatize.inference.video`) opens the input with :func:`open_input` and
:func:`input_streams`, iterates :func:`decode_frames` (sRGB ``uint8 [H,W,3]`` frames, audio packets passed to
the writer) and hands the colorized frames to a :class:`VideoWriter`, which keeps the input's frame timestamps,
size, sample aspect ratio, colour tags and display matrix, and copies every audio stream packet for packet.
Every failure is a :class:`VideoError` with a one-line message naming the file.

Needs the ``[video]`` extra (``av``).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

#: Constant rate factor: lower is better quality (18 is visually close to lossless for x264 and VP9 alike).
DEFAULT_CRF = 18
#: Encoder by output suffix; anything else gets libx264.
_CODEC_BY_SUFFIX = {".webm": "libvpx-vp9", ".ogv": "libtheora"}
_UNSPECIFIED, _FULL_RANGE = 2, 2  # FFmpeg's AVCOL_SPC_UNSPECIFIED and AVCOL_RANGE_JPEG
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"}



class VideoError(ValueError):
    """A video could not be read or written; the message is one line naming the file and the reason."""


def require_av():
    """The ``av`` module (PyAV), or VideoError saying how to install it."""
    try:
        import av
    except ImportError as e:
        raise VideoError("video needs PyAV: pip install 'chromatize[video]'") from e
    return av


def pick_encoder(av, codec: str | None, out_path: Path) -> str:
    """The video encoder's name: ``codec``, or by ``out_path``'s suffix (libvpx-vp9 for ``.webm``, else libx264);
    VideoError when FFmpeg has no such encoder or it does not encode video."""
    codec = codec or _CODEC_BY_SUFFIX.get(out_path.suffix.lower(), "libx264")
    try:
        encoder = av.codec.Codec(codec, "w")
    except Exception:
        raise VideoError(f"unknown video encoder {codec!r} (see `ffmpeg -encoders`; e.g. libx264, libvpx-vp9)") from None
    if encoder.type != "video":
        raise VideoError(f"{codec!r} is not a video encoder")
    return encoder.name


def open_input(av, in_path: Path):
    """The open input container (use it in ``with``); VideoError for a file FFmpeg cannot read, a still image
    or a file without a video stream (it is closed again then)."""
    try:
        inp = av.open(str(in_path))
    except av.FFmpegError as e:
        raise VideoError(f"{in_path}: not a video, or damaged or truncated ({_reason(e)})") from None
    try:
        if _is_still(inp.format.name):
            raise VideoError(f"{in_path} is a still image, not a video: use `chromatize colorize {in_path}`")
        if not inp.streams.video:
            raise VideoError(f"{in_path}: no video stream")
    except BaseException:
        inp.close()
        raise
    return inp


def input_streams(inp, in_path: Path) -> tuple:
    """``(video stream, [audio streams], frame rate or None)`` of an open input: its first video stream, set to
    decode on all threads. VideoError when FFmpeg cannot decode that stream."""
    vin = inp.streams.video[0]
    if vin.codec_context is None:
        raise VideoError(f"{in_path}: unsupported video codec")
    vin.thread_type = "AUTO"
    rate = vin.average_rate or vin.guessed_rate  # read while open: PyAV 19 refuses once the container is closed
    return vin, list(inp.streams.audio), rate


def _is_still(demuxer: str) -> bool:
    """Whether FFmpeg read the file with a still-image demuxer (``image2``, ``jpeg_pipe``, ``png_pipe``...),
    whatever the file's suffix; animated GIF (``gif``) and the video containers are not."""
    return demuxer == "image2" or demuxer.endswith("_pipe")


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def queue_timestamps(frames, writer: VideoWriter):
    """Pass decoded ``(rgb, frame)`` pairs through, queueing each frame's timestamp for the writer."""
    for rgb, frame in frames:
        writer.queue(frame)
        yield rgb, frame


def decode_frames(av, inp, vin, audio_in, writer: VideoWriter, in_path: Path):
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


class VideoWriter:
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
