"""One-off preprocessing cache: every usable image decoded once, resized, stored as uint8 in a memory-mapped .npy.

Each image's short side is resized to ``size`` and the centre square kept, giving ``uint8 [N,size,size,3]``
sRGB. The cache lives in ``cache_dir/<folder-hash>/`` as ``<key>.npy`` plus ``<key>.json`` (the index:
kept relative paths, skipped files with reasons). ``key`` hashes the file list with sizes and mtimes and the
cache size, so a run reuses the cache of an unchanged folder and rebuilds it when a file or the size
changes. Both files are written atomically (the index last), so a killed build leaves no usable half-cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from chromatize.data.folder import scan_images
from chromatize.fsutil import atomic_path, atomic_write_text

CACHE_VERSION = 1
#: An image whose 99th-percentile channel spread (max - min of R,G,B, in 0..255) is at most this is gray.
GRAY_SPREAD = 3


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/chromatize/datasets`` (``~/.cache/...`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chromatize" / "datasets"


@dataclass
class ImageCache:
    """A built cache: ``images`` is a read-only ``uint8 [N,S,S,3]`` memmap, ``paths[i]`` its source file."""

    images: np.ndarray
    paths: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    root: str = ""
    built: bool = False  # True when this call built it, False when an existing cache was reused

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return len(self.paths)


def cache_key(root: Path, rel_paths: list[str], size: int) -> str:
    """Hash of the file list (with sizes and mtimes) and the cache size."""
    h = hashlib.sha256(f"v{CACHE_VERSION}:{size}".encode())
    for rel in rel_paths:
        st = (root / rel).stat()
        h.update(f"\0{rel}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def load_square(path: Path, size: int) -> np.ndarray:
    """Decode ``path`` (EXIF-oriented), resize its short side to ``size``, keep the centre: ``uint8 [size,size,3]``."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
        im = ImageOps.fit(im.convert("RGB"), (size, size), Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.uint8)


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

    kept: list[str] = []
    skipped: dict[str, str] = {}
    with atomic_path(npy) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(rel_paths), size, size, 3))
        for rel in tqdm(rel_paths, desc=f"caching images at {size}px", unit="img", disable=not progress):
            try:
                rgb = load_square(root / rel, size)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:  # damaged/unsupported
                skipped[rel] = f"unreadable ({type(e).__name__}: {e})"
                continue
            if is_gray(rgb):
                skipped[rel] = "grayscale"
                continue
            arr[len(kept)] = rgb
            kept.append(rel)
        arr.flush()
        del arr
    meta = {"version": CACHE_VERSION, "root": str(root), "size": size, "count": len(kept), "paths": kept, "skipped": skipped}
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
    images = np.load(npy, mmap_mode="r")[: meta["count"]]
    return ImageCache(images, meta["paths"], meta["skipped"], str(root), built)
