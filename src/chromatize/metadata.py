"""What a photo says about itself, carried from input to output: EXIF, DPI and ICC profile.

Kept: the descriptive EXIF of the first image directory (description, camera make and model, software,
date, artist, copyright), the whole Exif directory (capture date, exposure, lens...) and the GPS directory;
the orientation is written as 1 (normal) since the pixels were turned upright when read. Not kept: the
layout tags of a TIFF (strips, sample formats...), which describe the input's pixels, not the output's, and
a gray ICC profile, which cannot describe a colour image (the output is then plain sRGB).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

#: First-directory EXIF tags that describe the photo, not its pixel layout.
DESCRIPTIVE_TAGS = {270: "ImageDescription", 271: "Make", 272: "Model", 305: "Software", 306: "DateTime",
                    315: "Artist", 33432: "Copyright"}
_ORIENTATION, _EXIF_IFD, _GPS_IFD = 0x0112, 0x8769, 0x8825
_JPEG_EXIF_MAX = 65_000  # an APP1 segment's 65,533 bytes, less the "Exif" header


@dataclass(frozen=True)
class ImageMeta:
    """Metadata to write with a result: ``exif`` (EXIF bytes as Pillow writes them, orientation 1),
    ``dpi`` (horizontal, vertical dots per inch) and ``icc`` (an RGB ICC profile); each None when absent."""

    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    icc: bytes | None = None


def read_meta(image: Image.Image) -> ImageMeta:
    """The metadata of an opened image (any format Pillow reads); unreadable parts are left out."""
    try:
        exif = _descriptive_exif(image.getexif())
    except Exception:  # a damaged EXIF block loses the metadata, never the photo
        exif = None
    dpi = image.info.get("dpi")
    try:
        dpi = (float(dpi[0]), float(dpi[1])) if dpi and float(dpi[0]) > 0 and float(dpi[1]) > 0 else None
    except (TypeError, ValueError, IndexError):
        dpi = None
    icc = image.info.get("icc_profile")
    icc = icc if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB " else None
    return ImageMeta(exif, dpi, icc)


def _descriptive_exif(exif: Image.Exif) -> bytes | None:
    kept = Image.Exif()
    for tag in DESCRIPTIVE_TAGS:
        if tag in exif:
            kept[tag] = exif[tag]
    for ifd in (_EXIF_IFD, _GPS_IFD):
        if ifd in exif:
            sub = dict(exif.get_ifd(ifd))
            if sub:
                kept[ifd] = sub
    if not len(kept) and _ORIENTATION not in exif:
        return None
    kept[_ORIENTATION] = 1
    return kept.tobytes()


def pillow_options(meta: ImageMeta | None, fmt: str) -> dict:
    """Keyword arguments of ``Image.save`` for Pillow format ``fmt`` that write ``meta`` (what it can hold)."""
    if meta is None:
        return {}
    holds = {"JPEG": ("exif", "dpi", "icc_profile"), "PNG": ("exif", "dpi", "icc_profile"),
             "TIFF": ("exif", "dpi", "icc_profile"), "WEBP": ("exif", "icc_profile"), "BMP": ("dpi",)}
    values = {"exif": meta.exif, "dpi": meta.dpi, "icc_profile": meta.icc}
    if fmt == "JPEG" and meta.exif is not None and len(meta.exif) > _JPEG_EXIF_MAX:
        values["exif"] = None  # one JPEG segment holds at most 64 KiB: the photo matters more than its notes
    return {k: values[k] for k in holds.get(fmt, ()) if values[k] is not None}


def png_chunks(meta: ImageMeta | None) -> list[tuple[bytes, bytes]]:
    """PNG chunks (type, data) that hold ``meta``: ``pHYs``, ``iCCP`` and ``eXIf`` (before the image data)."""
    if meta is None:
        return []
    # Pillow writes them exactly as a PNG needs; take its chunks rather than pack them again
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG", **pillow_options(meta, "PNG"))
    import png

    chunks = png.Reader(bytes=buffer.getvalue()).chunks()
    return [(kind, data) for kind, data in chunks if kind in (b"pHYs", b"iCCP", b"eXIf")]


def tiff_options(meta: ImageMeta | None) -> dict:
    """Keyword arguments of ``tifffile.imwrite`` that hold ``meta``: resolution, ICC profile, and the
    descriptive first-directory tags (the Exif and GPS directories are left out: tifffile writes one
    directory; the capture date becomes DateTime when that is missing)."""
    if meta is None:
        return {}
    options: dict = {}
    if meta.dpi:
        options.update(resolution=meta.dpi, resolutionunit="INCH")
    if meta.icc:
        options["iccprofile"] = meta.icc
    if meta.exif:
        exif = Image.Exif()
        exif.load(meta.exif)
        tags = {tag: exif[tag] for tag in DESCRIPTIVE_TAGS if isinstance(exif.get(tag), str)}
        captured = exif.get_ifd(_EXIF_IFD).get(36867) if _EXIF_IFD in exif else None
        if isinstance(captured, str):
            tags.setdefault(306, captured)
        for tag, name in ((270, "description"), (305, "software"), (306, "datetime")):
            if tag in tags:
                options[name] = tags.pop(tag)
        options["extratags"] = [(tag, "s", 0, value, True) for tag, value in sorted(tags.items())]
    return options
