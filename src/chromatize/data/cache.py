"""One-off preprocessing cache: every usable image decoded once, resized, stored as uint8 in a memory-mapped .npy.

Each photo is cut into squares covering it (one for photos up to about 3:2, two for 16:9, ...), each
resized to ``size``, giving ``uint8 [N,size,size,3]`` sRGB; the squares of one photo share its path,
so the train/val split never separates them. The cache lives in ``cache_dir/<folder-hash>/`` as ``<key>.npy`` plus ``<key>.json`` (the index:
kept relative paths, skipped files with reasons). ``key`` hashes the file list with sizes and mtimes and the
cache size, so a run reuses the cache of an unchanged folder and rebuilds it when a file or the size
changes. Both files are written atomically (the index last), so a killed build leaves no usable half-cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from chromatize.data.folder import scan_images
from chromatize.fsutil import atomic_path, atomic_write_text

CACHE_VERSION = 2
#: An image whose 99th-percentile channel spread (max - min of R,G,B, in 0..255) is at most this is gray.
GRAY_SPREAD = 3
#: What Pillow raises for damaged or unsupported files.
READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/chromatize/datasets`` (``~/.cache/...`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chromatize" / "datasets"


class ImageCache:
    """A built cache: ``images`` is a read-only ``uint8 [N,S,S,3]`` memmap, ``paths[i]`` the source file of square i.

    The memory map is opened lazily in each process, so DataLoader workers share the file instead of
    receiving a pickled copy of the array.
    """

    def __init__(self, npy: Path, paths: list[str], skipped: dict[str, str], root: str = "", built: bool = False):
        self.npy = Path(npy)
        self.paths = list(paths)
        self.skipped = dict(skipped)
        self.root = root
        self.built = built  # True when this call built it, False when an existing cache was reused
        self._images: np.ndarray | None = None

    @property
    def images(self) -> np.ndarray:
        if self._images is None:
            self._images = np.load(self.npy, mmap_mode="r")[: len(self.paths)]
        return self._images

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return len(self.paths)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_images": None}


def cache_key(root: Path, rel_paths: list[str], size: int) -> str:
    """Hash of the file list (with sizes and mtimes) and the cache size."""
    h = hashlib.sha256(f"v{CACHE_VERSION}:{size}".encode())
    for rel in rel_paths:
        st = (root / rel).stat()
        h.update(f"\0{rel}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def square_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Square crop boxes covering a ``width x height`` photo, evenly spaced along the long side: one
    centred square below 3:2, two from 3:2 (so 16:9 too), three from 5:2, ..."""
    side, long = min(width, height), max(width, height)
    n = max(1, int(long / side + 0.5))
    starts = [(long - side) // 2] if n == 1 else [round(i * (long - side) / (n - 1)) for i in range(n)]
    if width >= height:
        return [(x, 0, x + side, side) for x in starts]
    return [(0, y, side, y + side) for y in starts]


def tile_count(path: Path) -> int:
    """How many squares :func:`load_squares` will return (reads only the header)."""
    with Image.open(path) as im:
        return len(square_boxes(*im.size))


def load_squares(path: Path, size: int) -> list[np.ndarray]:
    """Decode ``path`` (EXIF-oriented, alpha on white) into ``uint8 [size,size,3]`` squares covering it."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
        im = im.convert("RGB")
        # reducing_gap: shrink big photos by an integer factor first (fast), then resample precisely
        return [
            np.asarray(im.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=2.0), dtype=np.uint8)
            for box in square_boxes(*im.size)
        ]


def is_gray(rgb: np.ndarray) -> bool:
    """True when ``uint8 [H,W,3]`` has (almost) no chroma."""
    spread = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1)
    return float(np.percentile(spread, 99)) <= GRAY_SPREAD


def _folder_dir(cache_dir: Path, root: Path) -> Path:
    return cache_dir / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]


def _warn_skipped(root: Path, skipped: dict[str, str], total: int) -> None:
    if skipped:
        n_gray = sum(1 for r in skipped.values() if r == "grayscale")
        examples = "; ".join(f"{p}: {r}" for p, r in list(skipped.items())[:3])
        warnings.warn(
            f"{root}: skipped {len(skipped)} of {total} images ({n_gray} grayscale, {len(skipped) - n_gray} unreadable),"
            f" e.g. {examples}",
            stacklevel=3,
        )


def _build(root: Path, rel_paths: list[str], size: int, npy: Path, index: Path, progress: bool) -> None:
    from tqdm import tqdm

    kept: list[str] = []  # one entry per stored square (a wide photo gives several)
    skipped: dict[str, str] = {}

    def unreadable(rel: str, e: Exception) -> None:
        skipped[rel] = f"unreadable ({type(e).__name__}: {e})"

    counts = {}
    for rel in rel_paths:  # headers only: how many squares to allocate
        try:
            counts[rel] = tile_count(root / rel)
        except READ_ERRORS as e:
            unreadable(rel, e)
    with atomic_path(npy) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(max(sum(counts.values()), 1), size, size, 3))
        for rel in tqdm(list(counts), desc=f"caching images at {size}px", unit="img", disable=not progress):
            try:
                squares = load_squares(root / rel, size)
            except READ_ERRORS as e:
                unreadable(rel, e)
                continue
            if is_gray(np.concatenate(squares)):
                skipped[rel] = "grayscale"
                continue
            arr[len(kept) : len(kept) + len(squares)] = np.stack(squares)
            kept.extend([rel] * len(squares))
        arr.flush()
        del arr
    meta = {"version": CACHE_VERSION, "root": str(root), "size": size, "count": len(kept), "images": len(set(kept)),
            "paths": kept, "skipped": skipped}
    atomic_write_text(index, json.dumps(meta, indent=0))


def open_cache(
    root: str | os.PathLike,
    size: int,
    cache_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
) -> ImageCache:
    """The cache of the images under ``root`` at ``size`` px, built on first use and reused afterwards.

    Grayscale and unreadable files are skipped, counted and reported with a warning. Raises
    :class:`ValueError` when the folder has no image or none is usable.
    """
    root = Path(root)
    if size < 8:
        raise ValueError(f"cache size must be at least 8 px, got {size}")
    rel_paths = scan_images(root)
    folder = _folder_dir(Path(cache_dir) if cache_dir else default_cache_dir(), root)
    key = cache_key(root, rel_paths, size)
    npy, index = folder / f"{size}px-{key}.npy", folder / f"{size}px-{key}.json"
    built = not (index.is_file() and npy.is_file())
    if built:
        _build(root, rel_paths, size, npy, index, progress)
        for stale in folder.glob(f"{size}px-*"):  # older versions of this folder at this size
            if stale not in (npy, index):
                stale.unlink(missing_ok=True)
    meta = json.loads(index.read_text())
    _warn_skipped(root, meta["skipped"], len(rel_paths))
    if meta["count"] == 0:
        raise ValueError(
            f"none of the {len(rel_paths)} images in {root} is usable for training (colour photographs needed): "
            + "; ".join(f"{p}: {r}" for p, r in list(meta["skipped"].items())[:5])
        )
    return ImageCache(npy, meta["paths"], meta["skipped"], str(root), built)
