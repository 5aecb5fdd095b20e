"""Hostile image files, made in memory: decompression bombs per format, odd shapes, modes and depths, damage.

Every maker returns the file's bytes; all are small (kilobytes) whatever size they declare. Shared by
tests/test_fuzz.py, tests/test_load.py and benchmarks/load_test.py.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

#: Formats the fuzzers mutate (Pillow names).
FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "GIF", "BMP")


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def seed_image(fmt: str, width: int = 24, height: int = 16, mode: str = "L") -> bytes:
    """A small valid image in ``fmt``: a gradient with a bright block, so damage shows in the pixels."""
    y, x = np.mgrid[0:height, 0:width]
    gray = (x * 255 // max(width - 1, 1) // 2 + y * 4).astype(np.uint8)
    gray[height // 4 : height // 2, width // 4 : width // 2] = 230
    image = Image.fromarray(gray, "L")
    if mode != "L":
        image = image.convert(mode)
    return encode(image, fmt)


# ---------------------------------------------------------------- decompression bombs: huge declared size


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header says ``width x height`` gray pixels; its few bytes of data decompress to zeros."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 65536, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG with its SOF frame size rewritten to ``width x height`` (at most 65535 a side)."""
    data = bytearray(seed_image("JPEG", 16, 16))
    at = data.index(b"\xff\xc0")  # baseline SOF0: marker, length(2), precision(1), height(2), width(2)
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A GIF whose logical screen and image descriptor both say ``width x height``."""
    data = bytearray(seed_image("GIF", 8, 8))
    data[6:10] = struct.pack("<HH", width, height)
    at = data.index(b"\x2c")  # image descriptor: ',', left(2), top(2), width(2), height(2)
    data[at + 5 : at + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_bomb(width: int = 200_000, height: int = 200_000) -> bytes:
    """A BMP whose info header says ``width x height`` (the pixel data is a few bytes)."""
    data = bytearray(seed_image("BMP", 8, 8))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def tiff_bomb(width: int = 1_000_000, height: int = 1_000_000, bits: int = 8, sample_format: int = 1) -> bytes:
    """An uncompressed gray TIFF declaring ``width x height`` with one tiny strip."""
    return tiff_raw(width, height, b"\0" * 64, bits=bits, sample_format=sample_format)


def tiff_raw(width: int, height: int, strip: bytes, *, bits: int = 8, samples: int = 1, photometric: int = 1,
             sample_format: int = 1) -> bytes:
    """A little-endian baseline TIFF, written by hand so any header value (even a wrong one) can be declared."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, 1), (262, 3, 1, photometric),
        (273, 4, 1, 0), (277, 3, 1, samples), (278, 4, 1, height), (279, 4, 1, len(strip)), (339, 3, 1, sample_format),
    ]
    ifd_offset = 8
    strip_offset = ifd_offset + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_offset) + struct.pack("<H", len(entries)))
    for tag, kind, count, value in entries:
        value = strip_offset if tag == 273 else value
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    return bytes(out + struct.pack("<I", 0) + strip)


def webp_bomb(width: int = 16_000_000, height: int = 16_000_000) -> bytes:
    """A WebP with an extended (VP8X) header declaring a ``width x height`` canvas around a tiny lossless image."""
    inner = seed_image("WEBP", 8, 8)  # RIFF size WEBP <chunks>
    chunks = inner[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + chunks
    return b"RIFF" + struct.pack("<I", len(body)) + body


BOMBS = {"PNG": png_bomb, "JPEG": jpeg_bomb, "GIF": gif_bomb, "BMP": bmp_bomb, "TIFF": tiff_bomb, "WEBP": webp_bomb}


# ---------------------------------------------------------------- odd but valid images


def odd_images() -> dict[str, bytes]:
    """Valid images at the edges: 1x1, extreme aspect ratios, multi-frame, 16-bit and float, CMYK/LAB/palette..."""
    rng = np.random.default_rng(7)
    out = {
        "1x1.png": encode(Image.new("L", (1, 1), 128), "PNG"),
        "1x1.jpg": encode(Image.new("L", (1, 1), 128), "JPEG"),
        "1x100000.png": encode(Image.fromarray(rng.integers(0, 256, (1, 100_000), dtype=np.uint8), "L"), "PNG"),
        "100000x1.png": encode(Image.fromarray(rng.integers(0, 256, (100_000, 1), dtype=np.uint8), "L"), "PNG"),
        "3x20000.tif": encode(Image.fromarray(rng.integers(0, 256, (20_000, 3), dtype=np.uint8), "L"), "TIFF"),
        "cmyk.jpg": encode(Image.open(io.BytesIO(seed_image("PNG", 20, 12, "RGB"))).convert("CMYK"), "JPEG"),
        "cmyk.tif": encode(Image.new("CMYK", (10, 6), (10, 20, 30, 40)), "TIFF"),
        "lab.tif": encode(Image.new("LAB", (10, 6), (50, 130, 120)), "TIFF"),
        "palette.png": encode(Image.open(io.BytesIO(seed_image("PNG", 20, 12))).convert("P"), "PNG"),
        "palette-transparent.gif": encode(Image.open(io.BytesIO(seed_image("PNG", 20, 12))).convert("P"), "GIF", transparency=0),
        "bilevel.tif": encode(Image.new("1", (17, 9), 1), "TIFF"),
        "la.png": encode(Image.new("LA", (9, 7), (100, 50)), "PNG"),
        "i16.png": encode(Image.fromarray((np.arange(60, dtype=np.uint16).reshape(6, 10) * 1000)), "PNG"),
        "float32.tif": tiff_raw(4, 3, np.linspace(0, 1, 12, dtype="<f4").tobytes(), bits=32, sample_format=3),
        "float32-nan-inf.tif": tiff_raw(4, 1, np.array([np.nan, np.inf, -np.inf, 0.5], "<f4").tobytes(), bits=32, sample_format=3),
        "uint16.tif": tiff_raw(4, 3, (np.arange(12, dtype="<u2") * 5000).tobytes(), bits=16),
        "int32.tif": tiff_raw(4, 3, (np.arange(12, dtype="<i4") * 100000 - 50000).tobytes(), bits=32, sample_format=2),
        "rgb16.tif": tiff_raw(3, 2, (np.arange(18, dtype="<u2") * 3000).tobytes(), bits=16, samples=3, photometric=2),
    }
    frames = [Image.new("L", (12, 8), v) for v in (0, 120, 250)]
    out["animated.gif"] = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out["animated.webp"] = encode(frames[0].convert("RGB"), "WEBP", save_all=True, append_images=[f.convert("RGB") for f in frames[1:]])
    out["animated.png"] = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    out["multipage.tif"] = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 9  # no such orientation
    out["exif-bad-orientation.jpg"] = encode(Image.new("L", (8, 6), 90), "JPEG", exif=exif)
    good = encode(Image.new("L", (8, 6), 90), "JPEG", exif=_exif_with_orientation(6))
    out["exif-truncated.jpg"] = _damage_exif(good)
    return out


def _exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    exif[0x010F] = "camera"
    return exif


def _damage_exif(jpeg: bytes) -> bytes:
    """Cut the EXIF block short while keeping its declared APP1 length (the rest is garbage)."""
    data = bytearray(jpeg)
    at = data.index(b"Exif\0\0")
    for i in range(at + 14, min(at + 40, len(data))):
        data[i] = 0xFF
    return bytes(data)


def bit_flip(data: bytes, positions: list[int]) -> bytes:
    out = bytearray(data)
    for p in positions:
        out[p % len(out)] ^= 1 << (p % 8)
    return bytes(out)
