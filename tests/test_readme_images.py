"""scripts/readme_images.py: the contact sheet of validation photos (gray / predictions / original)."""

from __future__ import annotations


import numpy as np
from PIL import Image

from scripts_loader import load_script

ri = load_script("readme_images")


class Tint:
    """Stands in for a Colorizer: paints the gray photo one colour."""

    def __init__(self, rgb):
        self.rgb = rgb

    def colorize_array(self, gray):
        return np.broadcast_to(np.array(self.rgb, np.uint8), gray.shape).copy()


def test_contact_sheet_shows_evenly_spaced_photos_in_two_columns(tmp_path):
    for i in range(7):
        Image.new("RGB", (60, 40), (30 * i, 200, 10)).save(tmp_path / f"p{i}.png")
    sheet = ri.contact_sheet(str(tmp_path), 3, [Tint((255, 0, 0)), Tint((0, 0, 255))], height=20)
    # 3 photos (first, middle, last) -> 2 rows left, 1 right; a row is gray + 2 predictions + original, 30 px each
    assert sheet.height == 2 * 20 + 4
    assert sheet.width == 2 * 4 * 30 + 12
    px = np.asarray(sheet)
    assert (px[10, 35] == [255, 0, 0]).all() and (px[10, 65] == [0, 0, 255]).all()  # the two models, in order
    assert tuple(px[10, 100]) == (0, 200, 10)  # row 1's original is the first photo
    assert tuple(px[34, 100]) == (90, 200, 10)  # row 2's is the middle one (p3)
    assert tuple(px[10, 132 + 100]) == (180, 200, 10)  # right column: the last (p6)
