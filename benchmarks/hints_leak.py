"""Does one click stay on its object? Leak and cover of a hint model on the validation photos (issue 22).

The protocol is :mod:`chromatize.evaluate.leak`: every colour-coherent region of 3-35 % of a photo gets one
click of a contrasting colour at its most interior point; *leak* is the mean ab change outside the region
(beyond a 3 %-of-diagonal margin) over the mean change inside it, *cover* the share of the region within 12 ab
units of the hint. Photos are centre-cropped to 256 px as ``chromatize evaluate`` does.

    PYTHONPATH=src python benchmarks/hints_leak.py --model hints [--data data/corpus/val] [--limit N]
        [--sheet leak.jpg] [--json leak.json]

The cover *ceiling* is what a perfect fill reaches: a dark or bright region cannot show a strong chroma at its
own luminance, which every result keeps. ``--sheet`` writes a contact sheet (gray / no hint / one click, the region outlined) of the first clicks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

SIZE = 256


def contact_sheet(rows: list[tuple[np.ndarray, ...]], path: str) -> None:
    """Rows of same-size sRGB float images -> one JPEG, images side by side, rows stacked."""
    from PIL import Image

    grid = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    Image.fromarray((np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, quality=90)


def outline(rgb: np.ndarray, mask: np.ndarray, x: int, y: int) -> np.ndarray:
    """``rgb`` with the region's border drawn white and the click drawn as a black-and-white cross."""
    from skimage.segmentation import find_boundaries

    out = rgb.copy()
    out[find_boundaries(mask, mode="inner")] = 1.0
    out[max(0, y - 4) : y + 5, x] = 0.0
    out[y, max(0, x - 4) : x + 5] = 0.0
    return out


def main(argv: list[str] | None = None) -> int:
    from chromatize.evaluate.data import gray_input, list_images, load_original
    from chromatize.evaluate.leak import ceiling, clicks, leak_and_cover, summarize
    from chromatize.hints import Hint
    from chromatize.inference.pipeline import Colorizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="hints")
    ap.add_argument("--data", default="data/corpus/val")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--sheet", default="")
    ap.add_argument("--sheet-rows", type=int, default=12)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    colorizer = Colorizer.from_pretrained(args.model, backend=args.backend)
    rows, sheet = [], []
    for i, (rel, path) in enumerate(list_images(args.data)[: args.limit or None]):
        original = load_original(path, SIZE)
        gray8 = (gray_input(original) * 255 + 0.5).astype(np.uint8)
        before = colorizer.colorize_array(gray8) / 255.0
        for click in clicks(original):
            after = colorizer.colorize_array(gray8, hints=[Hint(click.x, click.y, click.rgb)]) / 255.0
            rows.append({"file": rel, "x": click.x, "y": click.y, **leak_and_cover(click, before, after),
                         "ceiling": ceiling(click, gray8 / 255.0)})
            if len(sheet) < args.sheet_rows and len(sheet) < (i + 1) * 2:
                sheet.append((outline(gray8 / 255.0, click.mask, click.x, click.y), before,
                              outline(after, click.mask, click.x, click.y), original))
        print(f"{i + 1} {rel}: {len(rows)} clicks", file=sys.stderr, flush=True)
    summary = summarize(rows)
    print(f"model {args.model}: leak {summary['leak']:.3f} (of means {summary['leak_of_means']:.3f}), "
          f"cover {100 * summary['cover']:.1f} %, |Δab| inside {summary['inside']:.1f} outside "
          f"{summary['outside']:.1f}, {summary['clicks']} clicks; cover ceiling (the region filled with the hint, "
          f"at the photo's luminance) {100 * summary['ceiling']:.1f} %")
    if args.sheet and sheet:
        contact_sheet(sheet, args.sheet)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "data": args.data, "summary": summary,
                                               "clicks": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
