"""Fuzzing colour hints with Hypothesis: the hints JSON parser (dots and strokes), ``--hint``/``--hints`` on the
command line, and the HTTP ``hints`` field and ``reference`` upload.

Every input ends in hints or a :class:`HintError` with a one-line message (parser), exit 0 or a one-line error
with exit 2 (CLI), 200 or a 4xx with a JSON ``detail`` (HTTP), within a time bound. The example counts follow
tests/test_fuzz.py (``CHROMATIZE_FUZZ_EXAMPLES``; here a fraction of it for the slower targets).
"""

from __future__ import annotations

import contextlib
import io
import json
import time

import numpy as np
import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from PIL import Image

from chromatize.hints import (MAX_POINTS, MAX_STROKE_POINTS, Hint, HintError, Stroke, check_hints, hint_tensor,
                              hints_from_json)
from test_fuzz import EXAMPLES, SEEDS, TIME_BOUND, check_response, damaged, fuzz

#: Fewer examples for the targets that colorize a photo at each (CLI, HTTP).
few = settings(fuzz, max_examples=max(10, EXAMPLES // 3))

# ---------------------------------------------------------------- hostile hints JSON

NUMBERS = (st.integers(-10, 200) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([10 ** 400, -(10 ** 30), 1e308, -0.0, 5e-324, True, False]))
JUNK = st.recursive(st.none() | st.booleans() | NUMBERS | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12)
COLOR_NAMES = st.sampled_from(["red", "#1f3a93", "#fff", "rgb(1, 2, 3)", "navy ", "blurple", "#12345", "", "rgb(300,0,0)"])
COLORS = COLOR_NAMES | st.lists(st.integers(-5, 300), min_size=2, max_size=4) | JUNK
POINT = st.lists(NUMBERS, min_size=2, max_size=2) | JUNK


def mostly(draw, good, bad, odds: int = 6):
    """``good`` in ``odds - 1`` draws out of ``odds``, else ``bad``."""
    return draw(bad) if draw(st.integers(1, odds)) == 1 else draw(good)


@st.composite
def points(draw):
    """A stroke's points: mostly pairs inside a 100x80 photo (some fractional or outside), some junk,
    sometimes too many."""
    near = draw(st.integers(0, 3)) == 0  # fractional, some just outside
    good = st.tuples(st.floats(-1, 101) if near else st.integers(0, 99),
                     st.floats(-1, 81) if near else st.integers(0, 79)).map(list)
    pts = draw(st.lists((good | POINT) if draw(st.integers(0, 5)) == 0 else good, min_size=1, max_size=8))
    how = draw(st.sampled_from(["as is"] * 6 + ["too many", "at the cap", "not a list", "empty"]))
    if how == "too many":
        return pts + [[1, 1]] * (MAX_STROKE_POINTS + 1 - len(pts))
    if how == "at the cap":
        return ([[1, 1], [98, 78]] * MAX_STROKE_POINTS)[:MAX_STROKE_POINTS]
    return draw(JUNK) if how == "not a list" else [] if how == "empty" else pts


@st.composite
def hint_items(draw):
    """One item of a hints list: a dot or a stroke, mostly with right fields and values, sometimes not."""
    color = mostly(draw, st.sampled_from(["red", "#1f3a93", "#fff", "rgb(1, 2, 3)", "navy "]), COLORS)
    if draw(st.booleans()):
        item = {"x": mostly(draw, st.integers(0, 99), NUMBERS), "y": mostly(draw, st.integers(0, 79), NUMBERS), "color": color}
    else:
        item = {"points": draw(points()), "color": color}
    if draw(st.booleans()):
        item["radius"] = mostly(draw, st.integers(0, 20) | st.floats(0, 1e9), NUMBERS | JUNK)
    if draw(st.integers(0, 7)) == 0:
        item.pop(draw(st.sampled_from(sorted(item))))  # a missing field
    if draw(st.integers(0, 7)) == 0:
        item[draw(st.sampled_from(["x", "points", "size", ""]))] = draw(JUNK)  # an extra or doubled field
    return item if draw(st.integers(0, 15)) else draw(JUNK)


@st.composite
def hints_documents(draw):
    """A hints field / file: a list of items, junk JSON, or broken text."""
    how = draw(st.sampled_from(["list"] * 4 + ["strokes"] * 2 + ["many", "junk", "text", "broken"]))
    if how == "strokes":  # well-formed strokes inside a 100x80 photo (and a dot), to reach the painting
        pt = st.tuples(st.integers(0, 99), st.integers(0, 79)).map(list)
        stroke = st.fixed_dictionaries({"points": st.lists(pt, min_size=1, max_size=30), "color": st.just("#1f3a93")},
                                       optional={"radius": st.integers(0, 30) | st.floats(0, 1e12)})
        dot = st.fixed_dictionaries({"x": st.integers(0, 99), "y": st.integers(0, 79), "color": st.just("red")})
        return json.dumps(draw(st.lists(stroke | dot, min_size=1, max_size=4)))
    if how == "list":
        return json.dumps(draw(st.lists(hint_items(), max_size=5)))
    if how == "many":  # over the limit of points in all strokes, or of hints
        n = draw(st.sampled_from([MAX_POINTS // MAX_STROKE_POINTS + 1, 1001]))
        item = {"points": [[1, 1]] * MAX_STROKE_POINTS, "color": "red"} if n < 100 else {"x": 1, "y": 1, "color": "red"}
        return json.dumps([item] * n)
    if how == "junk":
        return json.dumps(draw(JUNK))
    if how == "text":
        return draw(st.text(max_size=40))
    text = json.dumps(draw(st.lists(hint_items(), min_size=1, max_size=3)))
    cut = draw(st.integers(0, len(text)))
    return draw(st.sampled_from([text[:cut], text[:cut] + "]" + text[cut:], "[" * 5000 + text, text.replace("1", "1" * 5000, 1)]))


def check_message(e: Exception) -> None:
    text = str(e)
    assert text and "\n" not in text and len(text) < 400, text


@fuzz
@given(hints_documents())
def test_hints_parser_ends_in_hints_or_a_one_line_hint_error(text):
    start = time.perf_counter()
    try:
        hints = hints_from_json(text)
    except HintError as e:
        check_message(e)
        event("refused while parsing")
        return
    assert all(isinstance(h, (Hint, Stroke)) for h in hints)
    assert hints_from_json(json.dumps([h.to_dict() for h in hints])) == hints  # to_dict round-trips
    try:
        hints = check_hints(hints, 100, 80)
    except HintError as e:
        check_message(e)
        event("refused by check_hints")
        return
    event(f"painted, with strokes: {any(isinstance(h, Stroke) for h in hints)}")
    t = hint_tensor(hints, (80, 100), (40, 50))
    assert t.shape == (1, 3, 40, 50) and torch.isfinite(t).all() and set(t[0, 2].unique().tolist()) <= {0.0, 1.0}
    assert time.perf_counter() - start < TIME_BOUND


@fuzz
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=30),
       st.floats(0, 1e6) | st.none(), st.integers(1, 64), st.integers(1, 64))
def test_painting_any_stroke_is_bounded_and_covers_its_points(pts, radius, h, w):
    """Any points (even outside the photo: hint_tensor does not need check_hints) paint a 0/1 mask; checked
    strokes cover each of their points' pixels."""
    stroke = Stroke(pts, "red", radius)
    t = hint_tensor([stroke], (h, w), (h, w))
    assert t.shape == (1, 3, h, w) and set(t[0, 2].unique().tolist()) <= {0.0, 1.0}
    for x, y in pts:
        if 0 <= x < w and 0 <= y < h:
            assert t[0, 2, min(h - 1, round(y)), min(w - 1, round(x))] == 1


# ---------------------------------------------------------------- the command line

CLI_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    from chromatize.checkpoint import save_checkpoint
    from chromatize.registry import create_model

    folder = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    model = save_checkpoint(folder / "hinty.safetensors", create_model("unet_hints", base=4, levels=3))
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 24), dtype=np.uint8), "L").save(folder / "p.png")
    return folder, str(model)


def run_cli(args: list[str]) -> tuple[int, str]:
    from chromatize.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


@few
@given(st.lists(st.sampled_from(["3,4,red", "23,15,#1f3a93,2", "1,1,rgb(1, 2, 3)"]) | CLI_TEXT
                | st.tuples(NUMBERS, NUMBERS, COLOR_NAMES).map(lambda t: ",".join(map(str, t))),
                min_size=1, max_size=3),
       st.none() | hints_documents().map(str.encode) | st.binary(max_size=64))
def test_cli_hint_flags_end_in_a_result_or_one_line_and_exit_2(cli_setup, hints, document):
    folder, model = cli_setup
    args = ["colorize", "-q", str(folder / "p.png"), "--model", model, "--render-size", "32", "--overwrite",
            "-o", str(folder / "out.png"), *[f"--hint={h}" for h in hints]]
    if document is not None:
        (folder / "h.json").write_bytes(document)
        args += ["--hints", str(folder / "h.json")]
    code, err = run_cli(args)
    event(f"exit {code}")
    assert "Traceback" not in err
    if code == 0:
        assert Image.open(folder / "out.png").size == (24, 16)
    else:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("chromatize colorize: error: "), err


# ---------------------------------------------------------------- the HTTP API

fastapi = pytest.importorskip("fastapi", reason="needs the [server] extra")
from fastapi.testclient import TestClient  # noqa: E402

from chromatize.server import ServerConfig, create_app  # noqa: E402
from test_hints import fill_colorizer  # noqa: E402


@pytest.fixture(scope="module")
def hint_client():
    """A server with a stand-in hint model; the reference matcher (tested in test_reference.py) answers no hints."""
    import chromatize.inference.reference as reference
    from chromatize.inference.pipeline import Colorizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reference, "reference_guide", lambda encoder, L_small, ref, **kw: reference.ReferenceGuide(
            torch.zeros(1, 3, *L_small.shape[-2:]), torch.zeros(1, 2, *L_small.shape[-2:]), torch.zeros(1, 1, *L_small.shape[-2:])))
        mp.setattr(Colorizer, "reference_encoder", lambda self: None)
        config = ServerConfig(workers=1, max_pixels=2_000_000, max_upload_bytes=2**20)
        with TestClient(create_app({"hints": fill_colorizer(render_size=32)}, config)) as c:
            yield c


def photo_png(width: int = 100, height: int = 80) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (height, width), dtype=np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


PHOTO = photo_png()


@few
@given(hints_documents() | st.text(max_size=20))
def test_http_hints_field_is_200_or_a_4xx_with_a_json_detail(hint_client, hints):
    start = time.perf_counter()
    r = hint_client.post("/api/colorize", files={"image": ("p.png", PHOTO, "image/png")}, data={"hints": hints})
    event(f"HTTP {r.status_code}")
    check_response(r)
    assert time.perf_counter() - start < TIME_BOUND * 3


@few
@given(damaged() | st.binary(max_size=512) | st.sampled_from(sorted(SEEDS)).map(SEEDS.get),
       st.sampled_from(["image/png", "image/jpeg", "application/octet-stream", "text/plain", ""]),
       st.sampled_from(["r.png", "", "../../x.jpg", "r"]))
def test_http_reference_upload_junk_is_200_or_a_4xx_with_a_json_detail(hint_client, data, ctype, filename):
    files = {"image": ("p.png", PHOTO, "image/png"), "reference": (filename, data, ctype)}
    r = hint_client.post("/api/colorize", files=files, data={"hints": '[{"points": [[1, 1], [50, 40]], "color": "red"}]'})
    event(f"HTTP {r.status_code}")
    check_response(r)
    if r.status_code == 200:
        assert Image.open(io.BytesIO(r.content)).size == (100, 80)
