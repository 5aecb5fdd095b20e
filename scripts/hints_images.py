#!/usr/bin/env python3
"""The hint pictures of the README and docs/HINTS.md: the same clicks before and after a change.

    python scripts/hints_images.py --panels runs/panels/new [--model hints]     # one model's results, one JPEG a case
    python scripts/hints_images.py --compose runs/panels/old runs/panels/new    # docs/images/hints_clicks.jpg and
                                                                                 # docs/images/hints_cameraman.jpg

``--panels`` colours every case below with ``--model`` and writes ``CASE.jpg`` per case (the automatic result
too, as ``CASE_auto.jpg``), so results of two versions of the code can be made, each in its own checkout, and
laid side by side by ``--compose``: per case, the gray photo with the clicks marked, the model's automatic
result, the clicked result of the first folder, that of the second.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

#: name -> (photo, [(x, y, colour)] in the photo's pixels). Validation photos and the CC0 sample only.
CASES = {
    "cameraman_navy": ("examples/cameraman.jpg", [(80, 330, "navy")]),
    "cameraman_green": ("examples/cameraman.jpg", [(400, 450, "green")]),
    "drums": ("data/corpus/val/gcompris-qt-data__explore_world_music/africa.jpg",
              [(175, 340, "yellow"), (455, 250, "red"), (770, 350, "green")]),
    "citrus": ("data/corpus/val/palapeli-data/citrus-fruits.jpg",
               [(310, 330, "#d02020"), (540, 260, "#2060d0"), (500, 100, "#30a030")]),
    "calf": ("data/corpus/val/gcompris-qt-data__erase/calf.jpg", [(0.5, 0.3, "#2050c0")]),
}


def load(photo: str) -> np.ndarray:
    from chromatize.io import load_image

    return load_image(photo).rgb


def points(case: str, rgb: np.ndarray) -> list[tuple[float, float, str]]:
    """The case's clicks in pixels (fractions of the size for values below 1)."""
    h, w = rgb.shape[:2]
    return [(x * w if x < 1 else x, y * h if y < 1 else y, c) for x, y, c in CASES[case][1]]


def make_panels(folder: Path, model: str) -> None:
    from chromatize.hints import Hint
    from chromatize.inference.pipeline import Colorizer, gray_array

    colorizer = Colorizer.from_pretrained(model)
    folder.mkdir(parents=True, exist_ok=True)
    for case, (photo, _) in CASES.items():
        gray = gray_array(load(photo))
        hints = [Hint(x, y, c) for x, y, c in points(case, gray)]
        Image.fromarray(colorizer.colorize_array(gray)).save(folder / f"{case}_auto.jpg", quality=92)
        Image.fromarray(colorizer.colorize_array(gray, hints=hints)).save(folder / f"{case}.jpg", quality=92)
        print(f"wrote {folder / case}.jpg")


def marked(case: str) -> Image.Image:
    """The gray photo with each click drawn as a dot of its colour in a white ring."""
    from chromatize.inference.pipeline import gray_array

    rgb = load(CASES[case][0])
    image = Image.fromarray(gray_array(rgb))
    draw = ImageDraw.Draw(image)
    r = max(6, round(min(image.size) / 60))
    for x, y, c in points(case, rgb):
        draw.ellipse((x - r - 3, y - r - 3, x + r + 3, y + r + 3), fill="white")
        draw.ellipse((x - r, y - r, x + r, y + r), fill=c)
    return image


def compose(before: Path, after: Path, out: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from readme_images import in_a_row, stacked

    from chromatize.io import save_image

    rows = [in_a_row([marked(case), Image.open(after / f"{case}_auto.jpg"), Image.open(before / f"{case}.jpg"),
                      Image.open(after / f"{case}.jpg")], height=200) for case in CASES if case != "cameraman_green"]
    save_image(stacked(rows), out / "hints_clicks.jpg", quality=88)
    row = in_a_row([Image.open(after / "cameraman_navy_auto.jpg"), Image.open(after / "cameraman_navy.jpg"),
                    Image.open(after / "cameraman_green.jpg")], height=300)
    save_image(row, out / "hints_cameraman.jpg", quality=88)
    print(f"wrote {out / 'hints_clicks.jpg'} and {out / 'hints_cameraman.jpg'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--panels", type=Path, help="write one model's results here")
    p.add_argument("--model", default="hints")
    p.add_argument("--compose", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    p.add_argument("--out", type=Path, default=Path("docs/images"))
    a = p.parse_args()
    if a.panels:
        make_panels(a.panels, a.model)
    if a.compose:
        compose(*a.compose, a.out)


if __name__ == "__main__":
    main()
