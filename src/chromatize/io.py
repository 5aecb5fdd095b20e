"""Reading and writing images: every common format, bit depth and mode in; atomic writes out.

Arrays are sRGB ``[H,W,3]``: ``uint8`` for 8-bit sources, ``uint16`` for 16-bit ones and ``float32`` in
``[0,1]`` for 32-bit integer or float sources, so no precision is lost before the pipeline computes L.
Gray sources come back as a read-only ``[H,W,3]`` view of one channel (no copy). Alpha, when present,
is ``uint8 [H,W]``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from chromatize.fsutil import atomic_path
from chromatize.metadata import ImageMeta, pillow_options, read_meta

#: Largest image (width x height) read by default: Pillow's own hard limit, about 179 MP (a 16000 x
#: 11000 scan). A larger ``max_pixels`` also needs ``PIL.Image.MAX_IMAGE_PIXELS`` raised (the CLI does).
DEFAULT_MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else 178_956_970
#: File suffixes picked up when a folder is given.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
#: Output suffix -> Pillow format name.
SAVE_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP",
}
_NO_ALPHA_FORMATS = ("JPEG",)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_BITS, _TIFF_SAMPLES, _TIFF_PHOTOMETRIC, _TIFF_ORIENTATION = 258, 277, 262, 274
#: EXIF orientation -> numpy equivalent of the Pillow transpose that ImageOps.exif_transpose applies.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


class ImageReadError(ValueError):
    """An input image could not be read; ``path`` names the file and ``reason`` says why."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read {self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """The image has more pixels than the configured limit."""


@dataclass
class LoadedImage:
    """An image read by :func:`load_image`, already upright (EXIF orientation applied)."""

    rgb: np.ndarray  # [H,W,3] uint8 / uint16 / float32 in [0,1]
    alpha: np.ndarray | None  # [H,W] uint8
    path: Path
    meta: ImageMeta | None = None  # EXIF (orientation 1), DPI, ICC profile, to write with the result

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), like PIL."""
        return self.rgb.shape[1], self.rgb.shape[0]


def load_image(
    source: str | os.PathLike | BinaryIO, *, max_pixels: int | None = DEFAULT_MAX_PIXELS, name: str | None = None
) -> LoadedImage:
    """Read JPEG, PNG, TIFF, BMP, WebP (anything Pillow reads) upright, at full precision.

    ``source`` is a path or a binary file object (e.g. an upload in ``io.BytesIO``; ``name`` then
    names it in errors).

    16-bit colour PNG and TIFF are read with pypng / tifffile because Pillow reduces them to 8 bits.
    Raises :class:`ImageTooLargeError` above ``max_pixels`` (``None``: no limit of ours; Pillow's own
    decompression-bomb guard still applies) and :class:`ImageReadError` for a missing, truncated or
    corrupt file. Both name the file.
    """
    is_stream = hasattr(source, "read")
    path = Path(name or getattr(source, "name", "<upload>")) if is_stream else Path(source)
    src = source if is_stream else path
    try:
        with Image.open(src) as image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLargeError(
                    path, f"{width}x{height} = {width * height:,} pixels exceeds the limit of "
                    f"{max_pixels:,} (raise it with max_pixels / --max-pixels)"
                )
            arrays = _read_high_depth_colour(src, image)
            if arrays is None:
                arrays = image_to_arrays(ImageOps.exif_transpose(image))
            meta = read_meta(image)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's guard fired first (its limit is below ours)
        pixels = bomb_pixels(e)
        size = f"{pixels:,} pixels" if pixels else "too many pixels"
        raise ImageTooLargeError(
            path, f"{size} exceeds the limit of {Image.MAX_IMAGE_PIXELS * 2:,} that Pillow's decompression-bomb guard "
            "allows (raise PIL.Image.MAX_IMAGE_PIXELS; the CLI does for a larger --max-pixels)"
        ) from e
    except FileNotFoundError as e:
        raise ImageReadError(path, "no such file") from e
    except UnidentifiedImageError as e:
        raise ImageReadError(path, "not an image, or a corrupt one (format not recognised)") from e
    except MemoryError:
        raise
    except Exception as e:  # decoders raise OSError, SyntaxError, ValueError, zlib/struct errors...
        raise ImageReadError(path, f"corrupt or truncated ({type(e).__name__}: {e})") from e
    rgb, alpha = arrays
    if rgb.size == 0:
        raise ImageReadError(path, f"the image has no pixels ({rgb.shape[1]}x{rgb.shape[0]})")
    return LoadedImage(rgb, alpha, path, meta)


def bomb_pixels(error: Exception) -> int | None:
    """The pixel count a :class:`PIL.Image.DecompressionBombError` names (its message's first number), or None."""
    match = re.search(r"(\d+) pixels", str(error))
    return int(match.group(1)) if match else None


def image_to_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image of any mode -> (sRGB ``[H,W,3]`` uint8 / uint16 / float32, alpha ``uint8 [H,W]`` or None).

    Modes ``I;16*`` give ``uint16``; ``I`` and ``F`` give ``float32`` in ``[0,1]`` (values are taken
    as 16-bit if above 1 and at most 65535, 8-bit if at most 255, else scaled by their maximum).
    Palette, CMYK, YCbCr, 1-bit and the rest go through Pillow's conversion to RGB.
    """
    if image.mode.startswith("I;16"):
        return _gray3(np.asarray(image).astype(np.uint16, copy=False)), None
    if image.mode in ("I", "F"):
        return _gray3(_float_unit(np.asarray(image, dtype=np.float32))), None
    if image.mode in ("L", "1"):
        return _gray3(np.asarray(image.convert("L"))), None
    if image.has_transparency_data:
        rgba = np.asarray(image.convert("RGBA"))
        return rgba[..., :3], rgba[..., 3].copy()
    return np.asarray(image.convert("RGB")), None


def to_float32(rgb: np.ndarray) -> np.ndarray:
    """``uint8`` / ``uint16`` / float array -> ``float32`` in ``[0,1]``."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    if rgb.dtype == np.uint16:
        return rgb.astype(np.float32) / 65535.0
    return np.clip(rgb, 0.0, 1.0, dtype=np.float32)


def to_rgb_array(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image of any mode -> (sRGB ``float32 [H,W,3]`` in ``[0,1]``, alpha ``uint8 [H,W]`` or None)."""
    rgb, alpha = image_to_arrays(image)
    return to_float32(rgb), alpha


def from_rgb_array(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """sRGB ``uint8 [H,W,3]`` or float in ``[0,1]`` (+ optional alpha ``uint8 [H,W]``) -> PIL image."""
    if rgb.dtype != np.uint8:
        rgb = (to_float32(rgb) * 255.0 + 0.5).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha, "L"))
    return image


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two images of equal height next to each other (mode of ``right``)."""
    if left.height != right.height:
        raise ValueError(f"heights differ: {left.height} and {right.height}")
    out = Image.new(right.mode, (left.width + right.width, right.height), "white")
    out.paste(left.convert(right.mode), (0, 0))
    out.paste(right, (left.width, 0))
    return out


def save_image(
    image: Image.Image,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    quality: int = 95,
    overwrite: bool = True,
    protect: "Inputs | Iterable[str | os.PathLike]" = (),
    meta: ImageMeta | None = None,
) -> Path:
    """Write ``image`` to ``path`` atomically (a failed write leaves no file, partial or old-replaced).

    ``format`` is a Pillow format name or suffix (``"jpg"``, ``"PNG"``...); by default the suffix decides.
    JPEG has no alpha, so transparent areas are flattened on white; PNG, TIFF and WebP keep alpha.
    ``protect`` lists paths (the inputs, or :class:`Inputs`) never written: naming one raises ValueError.
    ``meta`` (from :func:`load_image`): EXIF, DPI and ICC profile, kept where the format holds them.
    """
    path = Path(path)
    fmt = _format_name(format or path.suffix, path)
    if not 0 <= quality <= 100:
        raise ValueError(f"quality must be 0-100 (Pillow's JPEG/WebP range), got {quality}")
    refuse_inputs(path, protect)
    if fmt in _NO_ALPHA_FORMATS and "A" in image.getbands():
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = flat
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    options.update(pillow_options(meta, fmt))
    with atomic_path(path, overwrite=overwrite) as tmp:
        image.save(tmp, format=fmt, **options)
    return path


class Inputs:
    """The input files of a run, gathered once: :meth:`refuse` stops any write onto one of them, or onto a
    link to one, in the one wording every command uses."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self._paths, self._ids = set(), set()
        for p in paths:
            self._paths.add(os.path.abspath(p))
            try:
                st = os.stat(p)
                self._ids.add((st.st_dev, st.st_ino))
            except OSError:
                pass

    def refuse(self, path: str | os.PathLike) -> None:
        """Raise ValueError if writing ``path`` would overwrite an input."""
        same = os.path.abspath(path) in self._paths
        if not same and self._ids:
            try:
                st = os.stat(path)
                same = (st.st_dev, st.st_ino) in self._ids
            except OSError:
                pass
        if same:
            raise ValueError(f"{path} would overwrite an input (inputs are never written)")


def refuse_inputs(path: str | os.PathLike, protect: "Inputs | Iterable[str | os.PathLike]") -> None:
    """Raise ValueError if ``path`` is (or links to) one of the ``protect`` paths (the inputs)."""
    (protect if isinstance(protect, Inputs) else Inputs(protect)).refuse(path)


def _format_name(name: str, path: Path) -> str:
    suffix = "." + name.lower().lstrip(".")
    if suffix in SAVE_FORMATS:
        return SAVE_FORMATS[suffix]
    if name.upper() in SAVE_FORMATS.values():
        return name.upper()
    raise ValueError(f"cannot tell the image format to write {path} (use one of {', '.join(SAVE_FORMATS)})")


def _gray3(gray: np.ndarray) -> np.ndarray:
    """``[H,W]`` -> read-only ``[H,W,3]`` view repeating the one channel (no copy)."""
    return np.broadcast_to(gray[..., None], (*gray.shape, 3))


def _float_unit(values: np.ndarray) -> np.ndarray:
    """Float or wide-integer samples -> ``float32`` in ``[0,1]``; NaN reads as black, +inf as white, -inf as black."""
    finite = np.isfinite(values)
    top = float(values[finite].max()) if finite.any() else 0.0
    scale = 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else 65535.0 if top <= 65535.0 else top
    if not finite.all():
        values = np.nan_to_num(values, nan=0.0, posinf=scale, neginf=0.0)
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32, copy=False)


def _read_high_depth_colour(src: Path | BinaryIO, image: Image.Image) -> tuple[np.ndarray, np.ndarray | None] | None:
    """16-bit colour PNG / TIFF at full precision (upright), or None when Pillow's reading loses nothing."""
    if image.format == "PNG":
        head = _head(src, 26)
        if head[:8] == _PNG_SIGNATURE and head[24] == 16 and head[25] in (2, 4, 6):  # 16-bit RGB / LA / RGBA
            return _orient_arrays(*_read_png16(src), _exif_orientation(image))
    if image.format == "TIFF":
        tags = image.tag_v2
        bits = tags.get(_TIFF_BITS, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        if max(bits) > 8 and tags.get(_TIFF_SAMPLES, 1) >= 3 and tags.get(_TIFF_PHOTOMETRIC) == 2:
            arrays = _read_tiff_rgb(src, image.size)
            if arrays is not None:
                return _orient_arrays(*arrays, int(tags.get(_TIFF_ORIENTATION, 1)))
    return None


def _read_png16(src: Path | BinaryIO) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(src, Path):
        with open(src, "rb") as f:
            return _read_png16(f)
    import png  # pypng: Pillow decodes 16-bit colour PNG to 8 bits

    width, height, rows, info = png.Reader(file=_rewound(src)).asDirect()
    planes = info["planes"]
    data = np.empty((height, width * planes), dtype=np.uint16)
    for y, row in enumerate(rows):
        data[y] = row
    data = data.reshape(height, width, planes)
    colour = data[..., :3] if planes >= 3 else _gray3(data[..., 0])
    alpha = _alpha8(data[..., -1]) if planes in (2, 4) else None
    return colour, alpha


def _read_tiff_rgb(src: Path | BinaryIO, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The first page of a 16-bit / float colour TIFF with tifffile, or None to let Pillow read it.

    None too when tifffile's reading of a damaged header disagrees with Pillow's ``size`` (width, height)
    (once an empty ``(2, 0, 3)`` array where Pillow saw 2048 x 2): the size checked against the limits is
    the size read.
    """
    import tifffile

    # tifffile logs each damaged tag it skips; the outcome (a result, a fallback to Pillow or one error) is ours to report
    logging.getLogger("tifffile").addFilter(_below_critical)
    try:
        data = tifffile.imread(src if isinstance(src, Path) else _rewound(src), key=0)
    except Exception as e:  # e.g. LZW without imagecodecs: Pillow still reads it, at 8 bits
        warnings.warn(f"{getattr(src, 'name', src)}: read at 8-bit precision ({e})", stacklevel=3)
        return None
    if data.ndim != 3 or data.shape[-1] < 3 or sorted(data.shape[:2]) != sorted(size):  # Pillow may report it turned
        return None
    if data.dtype == np.uint16:
        colour, alpha = data[..., :3], (_alpha8(data[..., 3]) if data.shape[-1] > 3 else None)
    else:
        colour = _float_unit(data[..., :3].astype(np.float32))
        alpha = (_float_unit(data[..., 3].astype(np.float32)) * 255 + 0.5).astype(np.uint8) if data.shape[-1] > 3 else None
    return colour, alpha


def _below_critical(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL


def _head(src: Path | BinaryIO, n: int) -> bytes:
    if not isinstance(src, Path):
        return _rewound(src).read(n)
    with open(src, "rb") as f:
        return f.read(n)


def _rewound(stream: BinaryIO) -> BinaryIO:
    stream.seek(0)
    return stream


def _alpha8(alpha16: np.ndarray) -> np.ndarray:
    return ((alpha16.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _exif_orientation(image: Image.Image) -> int:
    return int(image.getexif().get(_TIFF_ORIENTATION, 1) or 1)


def _orient_arrays(rgb: np.ndarray, alpha: np.ndarray | None, orientation: int):
    turn = _ORIENT.get(orientation)
    if turn is None:
        return rgb, alpha
    return turn(rgb), (None if alpha is None else np.ascontiguousarray(turn(alpha)))
