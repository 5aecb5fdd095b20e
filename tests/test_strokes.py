"""Strokes: lines of colour hints, from JSON, the command line and HTTP, painted as continuous lines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from chromatize.cli import main
from chromatize.color import rgb_to_l_ab
from chromatize.hints import (MAX_POINTS, MAX_STROKE_POINTS, Hint, HintError, Stroke, check_hints, color_ab, hint_tensor,
                              hints_from_json, load_hints, paint_hints)
from test_hints import _photo, fill_colorizer, hint_model  # noqa: F401  (hint_model is a fixture)


def test_strokes_and_dots_parse_from_json_and_round_trip(tmp_path):
    text = json.dumps([{"x": 3, "y": 4, "color": "#102030"},
                       {"points": [[1, 2], [10.5, 2], [10.5, 8]], "color": "red", "radius": 2},
                       {"points": [[5, 5]], "color": [1, 2, 3]}])
    hints = hints_from_json(text)
    assert hints == [Hint(3, 4, "#102030"), Stroke([(1, 2), (10.5, 2), (10.5, 8)], (255, 0, 0), radius=2),
                     Stroke([[5, 5]], "#010203")]
    assert hints[1].points == ((1, 2), (10.5, 2), (10.5, 8)) and hints[1].hex == "#ff0000"
    assert hints[1].to_dict() == {"points": [[1, 2], [10.5, 2], [10.5, 8]], "color": "#ff0000", "radius": 2}
    path = tmp_path / "h.json"
    path.write_text(json.dumps([h.to_dict() for h in hints]))
    assert load_hints(path) == hints


@pytest.mark.parametrize("item, words", [
    ({"points": [[1, 2], [3, "a"]], "color": "red"}, r"hint 2 \(stroke\) .*point 2 \(\[3, \"a\"\]\) must be \[x, y\]"),
    ({"points": [[1, 2], [3]], "color": "red"}, r"point 2 .* must be \[x, y\]"),
    ({"points": [[1, 2], [float("nan"), 1]], "color": "red"}, "point 2"),
    ({"points": [[1, 2], [10 ** 400, 1]], "color": "red"}, "point 2"),
    ({"points": [[1, 2], [True, 1]], "color": "red"}, "point 2"),
    ({"points": [], "color": "red"}, "1 to 1000 points, got 0"),
    ({"points": [[1, 1]] * (MAX_STROKE_POINTS + 1), "color": "red"}, "1 to 1000 points, got 1001"),
    ({"points": "1,2", "color": "red"}, "list of \\[x, y\\] pairs"),
    ({"points": {"x": 1}, "color": "red"}, "list of \\[x, y\\] pairs"),
    ({"points": [[1, 2]], "color": "nope"}, "unknown colour"),
    ({"points": [[1, 2]], "color": "rgb(300, 0, 0)"}, "outside 0-255"),  # once painted as #12c0000
    ({"points": [[1, 2]], "color": "red", "radius": -1}, "radius"),
    ({"points": [[1, 2]]}, "hint 2 .*must have"),
    ({"points": [[1, 2]], "color": "red", "x": 1}, "hint 2 .*must have"),
    ({"x": 10 ** 400, "y": 1, "color": "red"}, "hint 2 .*x must be a finite number"),  # once an OverflowError
])
def test_malformed_strokes_are_refused_naming_the_hint_and_point(item, words):
    with pytest.raises(HintError, match=words) as info:
        hints_from_json(json.dumps([{"x": 1, "y": 1, "color": "red"}, item]))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


@pytest.mark.parametrize("text", ["[" * 100_000, "[1" + "0" * 5000 + "]", b"\xff\xfe[]", "[1e999]"])
def test_json_that_python_cannot_read_is_a_hint_error(text):
    with pytest.raises(HintError, match="not valid JSON|must have"):
        hints_from_json(text)


def test_the_total_number_of_points_is_capped():
    strokes = [{"points": [[1, 1]] * MAX_STROKE_POINTS, "color": "red"}] * (MAX_POINTS // MAX_STROKE_POINTS)
    assert len(hints_from_json(strokes)) == MAX_POINTS // MAX_STROKE_POINTS
    with pytest.raises(HintError, match=f"at most {MAX_POINTS} points"):
        hints_from_json(strokes + [{"x": 1, "y": 1, "color": "red"}])
    with pytest.raises(HintError, match=f"at most {MAX_POINTS} points"):
        check_hints([Stroke([(1, 1)] * MAX_STROKE_POINTS, "red")] * 10 + [Hint(1, 1, "red")], 10, 10)


def test_every_point_of_a_stroke_is_checked_against_the_photo():
    ok = Stroke([(0, 0), (639, 479)], "navy")
    check_hints([Hint(1, 1, "red"), ok], 640, 480)
    with pytest.raises(HintError, match=r"^hint 2 \(stroke\) point 3 at \(900, 10\) is outside the 640x480 photo$"):
        check_hints([Hint(1, 1, "red"), Stroke([(1, 1), (2, 2), (900, 10)], "red")], 640, 480)
    with pytest.raises(HintError, match=r"strokes are too long: .* at most 50 x \(width \+ height\) = 1000"):
        check_hints([Stroke([(0, 0), (9, 9)] * 60, "red")], 10, 10)


def brute_line(size, rows, cols, r):
    """The reference drawing: a square of side round(2r) + 1 at every <= 1 px step along each segment."""
    h, w = size
    out = torch.zeros(h, w, dtype=torch.bool)
    side = round(2 * r) + 1
    for (y0, x0), (y1, x1) in zip(zip(rows, cols), list(zip(rows, cols))[1:]):
        n = max(1, math.ceil(max(abs(y1 - y0), abs(x1 - x0))))
        for k in range(n + 1):
            top, left = round(y0 + (y1 - y0) * k / n - r), round(x0 + (x1 - x0) * k / n - r)
            out[max(0, top):max(0, min(h, top + side)), max(0, left):max(0, min(w, left + side))] = True
    return out


def test_a_stroke_is_painted_as_squares_every_pixel_along_its_segments():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n, r = int(rng.integers(2, 6)), float(rng.choice([0, 0.3, 1, 2.5, 3, 4.7]))
        rows, cols = rng.uniform(-5, 35, n).tolist(), rng.uniform(-5, 45, n).tolist()
        t = paint_hints((30, 40), [(rows, cols, r)], torch.tensor([[0.25, -0.5]]))
        assert torch.equal(t[0, 2] > 0, brute_line((30, 40), rows, cols, r)), trial
        assert torch.all(t[0, :2][:, t[0, 2] > 0] == torch.tensor([[0.25], [-0.5]]))


def test_stroke_tensor_at_the_render_size_is_a_continuous_line():
    # Photo 100 high, 200 wide at 50 x 100: a stroke from (x=10, y=20) to (190, 80) is a diagonal band.
    t = hint_tensor([Stroke([(10, 20), (190, 80)], "#1f3a93", radius=0)], (100, 200), (50, 100))
    mask = t[0, 2] > 0
    cols = torch.nonzero(mask)[:, 1]
    assert set(cols.tolist()) == set(range(5, 96))  # one pixel in every column between the ends: no gaps
    assert torch.allclose(t[0, :2][:, mask], color_ab([(31, 58, 147)])[0][:, None].expand(2, int(mask.sum())))
    wide = hint_tensor([Stroke([(10, 20), (190, 20)], "red")], (100, 200), (50, 100))
    rows = torch.nonzero(wide[0, 2] > 0)[:, 0]
    assert (rows.min(), rows.max()) == (7, 13)  # default half-width 3 render px: 7 px wide, as a dot


def test_a_single_point_stroke_is_a_dot_and_later_hints_win():
    for radius in (None, 0, 2, 5.5):
        dot = hint_tensor([Hint(150, 20, "navy", radius)], (100, 200), (50, 100))
        assert torch.equal(hint_tensor([Stroke([(150, 20)], "navy", radius)], (100, 200), (50, 100)), dot)
    red, navy = color_ab([(255, 0, 0), (0, 0, 128)])
    line = Stroke([(0, 50), (199, 50)], "red")
    over = hint_tensor([line, Hint(100, 50, "navy")], (100, 200), (100, 200))
    under = hint_tensor([Hint(100, 50, "navy"), line], (100, 200), (100, 200))
    assert torch.allclose(over[0, :2, 50, 100], navy) and torch.allclose(under[0, :2, 50, 100], red)
    assert torch.allclose(over[0, :2, 50, 20], red) and torch.equal(over[0, 2], under[0, 2])


def test_colorizer_colours_along_a_stroke():
    gray = np.full((40, 80), 120, np.uint8)
    gray[20:] = 60  # a bright top band over a dark bottom one: the stroke runs along the top
    c = fill_colorizer(render_size=80)
    out = np.asarray(c.colorize(Image.fromarray(gray, "L"), hints=[Stroke([(2, 5), (77, 5)], "#1f3a93", radius=1)]))
    ab = rgb_to_l_ab(torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255)[1][0]
    assert (ab[1, 5, 2:78] < -0.2).all()  # navy all along the stroke
    assert ab[:, 35].abs().max() < 0.05  # not across the edge
    with pytest.raises(HintError, match=r"hint 1 \(stroke\) point 2 at \(80, 5\) is outside the 80x40 photo"):
        c.colorize(Image.fromarray(gray, "L"), hints=[Stroke([(2, 5), (80, 5)], "red")])


def test_cli_reads_strokes_from_a_hints_file(tmp_path, hint_model, capsys):  # noqa: F811
    photo = _photo(tmp_path / "p.png")
    (tmp_path / "h.json").write_text('[{"points": [[1, 1], [20, 3], [22, 14]], "color": "#1f3a93"}]')
    assert main(["colorize", "-q", str(photo), "--model", hint_model, "--hint", "5,5,red",
                 "--hints", str(tmp_path / "h.json"), "-o", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (24, 16)
    (tmp_path / "bad.json").write_text('[{"points": [[1, 1], [30, 3]], "color": "red"}]')
    assert main(["colorize", "-q", str(photo), "--model", hint_model, "--hints", str(tmp_path / "bad.json"),
                 "-o", str(tmp_path / "bad.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "hint 1 (stroke) point 2 at (30, 3) is outside the 24x16 photo" in err and "\n" not in err
    assert not (tmp_path / "bad.png").exists()


def test_a_hint_in_the_last_pixel_paints_it_even_with_no_radius():
    # x = 99.7 is inside a 100-pixel-wide photo, but its centre once rounded to column 100: nothing painted
    for hint in (Hint(99.7, 79.6, "red", radius=0), Stroke([(99.7, 79.6), (99.9, 79.9)], "red", radius=0)):
        t = hint_tensor([hint], (80, 100), (80, 100))
        assert t[0, 2, 79, 99] == 1 and t[0, 2].sum() == 1
