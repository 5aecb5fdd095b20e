#!/usr/bin/env python3
"""Make the README's before/after pictures with a model (default: the shipped one).

    python scripts/readme_images.py                      # docs/images/cameraman_before_after.jpg
    python scripts/readme_images.py --gallery data/corpus/val/lomiri-wallpapers-16.04/seeding_by_Clements_Engelhardt.jpg ...

``--gallery PHOTO...`` adds ``docs/images/validation_gallery.jpg``: one row per photo, gray input /
prediction / original, each made from the photo's gray version through ``Colorizer`` at full resolution
(then reduced for the page). Use validation photos only: the model never saw them.

``--contact FOLDER [--contact-count 24] [--before MODEL]`` adds ``docs/images/contact_sheet.jpg``: every k-th photo
of FOLDER (sorted, evenly spaced, ``--contact-count`` of them), each as gray / ``--before``'s prediction (when
given) / ``--model``'s prediction / original, in two columns.
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

from PIL import Image

from chromatize.evaluate.data import list_images
from chromatize.inference.pipeline import Colorizer, gray_array
from chromatize.io import load_image, save_image, side_by_side


def in_a_row(images: list[Image.Image], height: int) -> Image.Image:
    """Images scaled to ``height`` and joined left to right with :func:`chromatize.io.side_by_side`."""
    scaled = [im.resize((round(im.width * height / im.height), height), Image.Resampling.LANCZOS) for im in images]
    return functools.reduce(side_by_side, scaled)


def stacked(rows: list[Image.Image], gap: int = 4) -> Image.Image:
    width = max(r.width for r in rows)
    out = Image.new("RGB", (width, sum(r.height for r in rows) + gap * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        out.paste(r, ((width - r.width) // 2, y))
        y += r.height + gap
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--example", default="examples/cameraman.jpg")
    p.add_argument("--gallery", nargs="*", default=[], metavar="PHOTO")
    p.add_argument("--contact", metavar="FOLDER", help="validation photos for a contact sheet")
    p.add_argument("--contact-count", type=int, default=24)
    p.add_argument("--before", metavar="MODEL", help="a second model shown left of --model on the contact sheet")
    p.add_argument("--out", default="docs/images")
    a = p.parse_args()
    colorizer = Colorizer.from_pretrained(a.model)
    out = Path(a.out)

    example = load_image(a.example).rgb
    result = Image.fromarray(colorizer.colorize_array(example))
    pair = in_a_row([Image.fromarray(gray_array(example)), result], height=384)
    save_image(pair, out / "cameraman_before_after.jpg", quality=90)
    print(f"wrote {out / 'cameraman_before_after.jpg'}")

    if a.gallery:
        rows = []
        for photo in a.gallery:
            original = load_image(photo).rgb
            gray = gray_array(original)
            pred = colorizer.colorize_array(gray)
            rows.append(in_a_row([Image.fromarray(x) for x in (gray, pred, original)], height=220))
        save_image(stacked(rows), out / "validation_gallery.jpg", quality=88)
        print(f"wrote {out / 'validation_gallery.jpg'}")

    if a.contact:
        models = ([Colorizer.from_pretrained(a.before)] if a.before else []) + [colorizer]
        save_image(contact_sheet(a.contact, a.contact_count, models), out / "contact_sheet.jpg", quality=88)
        print(f"wrote {out / 'contact_sheet.jpg'}")


def contact_sheet(folder: str, count: int, colorizers: list[Colorizer], height: int = 112) -> Image.Image:
    """``count`` evenly spaced photos of ``folder``: a row each of gray / every colorizer's result / original,
    in two columns."""
    files = list_images(folder)
    picked = [files[round(i * (len(files) - 1) / max(count - 1, 1))][1] for i in range(min(count, len(files)))]
    rows = []
    for photo in picked:
        original = load_image(photo).rgb
        gray = gray_array(original)
        rows.append(in_a_row([Image.fromarray(x) for x in (gray, *(c.colorize_array(gray) for c in colorizers), original)],
                             height=height))
    half = (len(rows) + 1) // 2
    columns = [stacked(rows[:half])] + ([stacked(rows[half:])] if rows[half:] else [])
    sheet = Image.new("RGB", (sum(c.width for c in columns) + 12 * (len(columns) - 1), columns[0].height), "white")
    for i, column in enumerate(columns):
        sheet.paste(column, (i * (columns[0].width + 12), 0))
    return sheet


if __name__ == "__main__":
    main()
