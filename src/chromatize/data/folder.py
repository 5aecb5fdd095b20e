"""Finding images in a folder and splitting them into train / val deterministically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def scan_images(root: str | os.PathLike) -> list[str]:
    """Relative POSIX paths of the image files under ``root`` (recursive, sorted, hidden entries skipped).

    Raises :class:`FileNotFoundError` if ``root`` is not a folder, :class:`ValueError` if it holds no image.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist or is not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    if not found:
        raise ValueError(f"no images found in {root} (looked recursively for {', '.join(IMAGE_SUFFIXES)})")
    return sorted(found)


def path_fraction(rel_path: str) -> float:
    """A stable number in ``[0,1)`` from a relative path (same on every machine and run)."""
    digest = hashlib.sha1(rel_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_train_val(rel_paths: list[str], val_fraction: float) -> tuple[list[int], list[int]]:
    """Indices of ``rel_paths`` for (train, val): a path is in val when its hash fraction < ``val_fraction``.

    Adding or removing other files never moves a file between the sets. With ``val_fraction > 0`` and at
    least two files, both sets are non-empty (the lowest / highest hashed file is moved if needed).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    fractions = [path_fraction(p) for p in rel_paths]
    val = [i for i, f in enumerate(fractions) if f < val_fraction]
    train = [i for i, f in enumerate(fractions) if f >= val_fraction]
    if val_fraction > 0 and len(rel_paths) >= 2:
        if not val:
            first = min(train, key=fractions.__getitem__)
            train.remove(first)
            val.append(first)
        elif not train:
            last = max(val, key=fractions.__getitem__)
            val.remove(last)
            train.append(last)
    return train, val
