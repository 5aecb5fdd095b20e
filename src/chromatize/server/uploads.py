"""Checking, decoding and encoding uploaded images; every refusal is an :class:`UploadRejected`."""

from __future__ import annotations

import io

from PIL import Image

from chromatize.io import ImageReadError, ImageTooLargeError, LoadedImage, bomb_pixels, load_image

from chromatize.server.config import ACCEPTED_CONTENT_TYPES, ACCEPTED_FORMATS, OUTPUT_FORMATS


class UploadRejected(ValueError):
    """An upload the server will not process; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_content_type(content_type: str | None) -> None:
    """415 unless the declared media type is an accepted image type (or generic: decided by the bytes)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in ACCEPTED_CONTENT_TYPES:
        raise UploadRejected(415, f"unsupported media type {media!r}; accepted: {', '.join(ACCEPTED_FORMATS)}")


def pixel_limit_message(max_pixels: int, width: int | None = None, height: int | None = None,
                        pixels: int | None = None) -> str:
    """The server's own words for an image over its pixel limit (named by the ``serve`` flag that sets it): the
    image's pixel count, stated like the limit ("49,000,000 pixels"), then its width x height when known."""
    if width is not None and height is not None:
        pixels = width * height
    size = f"{pixels:,} pixels" if pixels else "too many pixels"
    shape = f" ({width}x{height})" if width is not None and height is not None else ""
    return (f"image is too large: {size}{shape}, read from its header, over this server's limit of {max_pixels:,} "
            f"pixels ({max_pixels / 1e6:g} megapixels; set with chromatize serve --max-megapixels)")


def decode_upload(data: bytes, *, max_pixels: int) -> LoadedImage:
    """Uploaded bytes -> the image read by :func:`chromatize.io.load_image` (upright, full bit depth).

    400: empty, unreadable or damaged; 415: an image format not accepted; 413: more than ``max_pixels``
    (checked from the header, before the pixels are decoded).
    """
    if not data:
        raise UploadRejected(400, "the uploaded file is empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
    except Image.DecompressionBombError as e:  # Pillow's own guard, above ours: answer with our limit
        raise UploadRejected(413, pixel_limit_message(max_pixels, pixels=bomb_pixels(e))) from e
    except Image.UnidentifiedImageError as e:
        raise UploadRejected(400, "not a readable image: the bytes are in no image format Pillow knows") from e
    except Exception as e:  # Pillow raises many types for a damaged header
        raise UploadRejected(400, f"not a readable image ({type(e).__name__}: {e})") from e
    if fmt not in ACCEPTED_FORMATS:
        raise UploadRejected(415, f"image format {fmt} is not accepted; accepted: {', '.join(ACCEPTED_FORMATS)}")
    if width * height > max_pixels:
        raise UploadRejected(413, pixel_limit_message(max_pixels, width, height))
    if width < 1 or height < 1:
        raise UploadRejected(400, f"the image has no pixels ({width}x{height})")
    try:
        return load_image(io.BytesIO(data), max_pixels=max_pixels, name="upload")
    except ImageTooLargeError as e:
        raise UploadRejected(413, pixel_limit_message(max_pixels)) from e
    except ImageReadError as e:
        raise UploadRejected(400, f"damaged or truncated {fmt} image ({e.reason})") from e


def encode_image(image: Image.Image, fmt: str, *, jpeg_quality: int = 92) -> tuple[bytes, str]:
    """PIL image -> (file bytes, media type) for output format ``"png"`` or ``"jpeg"`` (JPEG drops alpha)."""
    pil_format, media_type = OUTPUT_FORMATS[fmt]
    buffer = io.BytesIO()
    if pil_format == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=jpeg_quality)
    else:  # zlib level 1: lossless all the same, 4x faster than Pillow's default 6 on a 12 MP photo, a little larger
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue(), media_type
