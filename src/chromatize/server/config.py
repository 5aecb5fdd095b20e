"""Limits and sizes of the web server, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Upload formats accepted (Pillow format name -> media type).
ACCEPTED_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "GIF": "image/gif",
}
#: Declared upload media types accepted; generic ones defer to the decoded format.
ACCEPTED_CONTENT_TYPES = frozenset(ACCEPTED_FORMATS.values()) | {
    "image/jpg",
    "image/pjpeg",
    "image/x-ms-bmp",
    "image/x-png",
    "application/octet-stream",
    "",
}
#: Output formats: name -> (Pillow format, media type).
OUTPUT_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg")}


@dataclass(frozen=True)
class ServerConfig:
    """What one server accepts and how much work it takes on at once.

    - ``max_upload_bytes``: larger uploads get 413.
    - ``max_pixels``: width x height above this gets 413 (checked from the header, before decoding).
    - ``workers``: inference threads; ``queue_limit``: requests that may wait for one (503 beyond).
    - ``min_render_size`` / ``max_render_size``: allowed ``render_size`` (422 outside).
    - ``max_saturation``: allowed ``saturation`` is ``[0, max_saturation]`` (422 outside).
    - ``backend``: how model files run (``auto``, ``torch``, ``onnx``; see ``Colorizer.from_pretrained``).
    """

    max_upload_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    workers: int = 1
    queue_limit: int = 8
    min_render_size: int = 32
    max_render_size: int = 1024
    max_saturation: float = 3.0
    jpeg_quality: int = 92
    backend: str = "auto"

    def __post_init__(self):
        for name in ("max_upload_bytes", "max_pixels", "workers", "min_render_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.queue_limit < 0:
            raise ValueError(f"queue_limit must be >= 0, got {self.queue_limit}")
        self.limits  # render size and saturation limits: checked here, where they are made  # noqa: B018
        from chromatize.inference import BACKENDS

        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    @property
    def limits(self):
        """The :class:`chromatize.inference.settings.Limits` this server allows (narrower than the library's)."""
        from chromatize.inference.settings import Limits

        return Limits(self.min_render_size, self.max_render_size, self.max_saturation)

    def to_dict(self) -> dict:
        return asdict(self)
