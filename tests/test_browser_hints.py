"""Colour hints on the page, in Debian's headless Chromium: click, pick a colour, drag, remove, save, load."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from PIL import Image

from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, download, live_server, wait_for_render

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright")
uvicorn = pytest.importorskip("uvicorn", reason="needs the [server] extra")

from chromatize.server import ServerConfig, create_app  # noqa: E402
from test_hints import fill_colorizer  # noqa: E402
from test_server import save_tinted_model  # noqa: E402
from test_server_hints import ab_at, two_tone  # noqa: E402


@pytest.fixture
def server_url(tmp_path):
    """A live server offering a plain model (the default) and a stand-in hint model."""
    models = {"plain": save_tinted_model(tmp_path / "plain.safetensors"), "hints": fill_colorizer(render_size=160)}
    with live_server(create_app(models, ServerConfig(workers=1))) as url:
        yield url


@contextlib.contextmanager
def opened_page(server_url: str, photo):
    """Chromium on the page with ``photo`` (a file) uploaded and its first result rendered -> ``(page, errors)``:
    the page and the list its script errors and console errors are collected in."""
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True, viewport={"width": 1100, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(server_url + "/")
            page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=TIMEOUT_MS)
            page.set_input_files("#file", str(photo))
            wait_for_render(page, 1)
            yield page, errors
        finally:
            browser.close()


def _bytes(image: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_click_a_hint_pick_its_colour_drag_remove_save_and_load(server_url, tmp_path):
    photo = two_tone(160, 80)  # left half light, right half dark
    photo.save(tmp_path / "two.png")
    ARTIFACTS.mkdir(exist_ok=True)
    with opened_page(server_url, tmp_path / "two.png") as (page, errors):
        assert page.locator("#model").input_value() == "plain"

        page.check("#hint-mode")
        box = page.locator("#compare").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)  # on the left region
        page.wait_for_selector('body[data-hints="1"]', state="attached", timeout=TIMEOUT_MS)
        assert page.locator("#model").input_value() == "hints"  # switched to a model that takes hints
        start = page.locator("#hint-color").input_value()
        assert start.startswith("#") and len(start) == 7  # the colour under the click, as a start
        wait_for_render(page, 2)

        page.fill("#hint-color", "#1f3a93")  # navy
        wait_for_render(page, 3)
        navy = download(page, tmp_path / "navy.png")
        body = _bytes(navy)
        assert ab_at(body, 33, 40)[1] < -0.2, "the hinted point is navy"
        assert ab_at(body, 140, 40).abs().max() < 0.05, "the region across the edge is not"
        page.screenshot(path=str(ARTIFACTS / "browser-hints.png"), full_page=True)

        marker = page.locator(".marker").first
        mbox = marker.bounding_box()
        page.mouse.move(mbox["x"] + mbox["width"] / 2, mbox["y"] + mbox["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.up()  # dragged onto the dark region: re-renders there
        wait_for_render(page, 4)
        moved = _bytes(download(page, tmp_path / "moved.png"))
        assert ab_at(moved, 129, 40)[1] < -0.2 and ab_at(moved, 33, 40).abs().max() < 0.05

        with page.expect_download(timeout=TIMEOUT_MS) as info:
            page.click("#hints-save")
        info.value.save_as(tmp_path / "saved.json")
        saved = json.loads((tmp_path / "saved.json").read_text())
        assert len(saved) == 1 and saved[0]["color"] == "#1f3a93" and saved[0]["x"] >= 120

        page.click("#hint-remove")
        page.wait_for_selector('body[data-hints="0"]', state="attached", timeout=TIMEOUT_MS)
        wait_for_render(page, 5)
        assert np.ptp(np.asarray(download(page, tmp_path / "none.png").convert("RGB")).astype(int), axis=2).max() <= 2

        (tmp_path / "load.json").write_text(json.dumps([{"x": 30, "y": 20, "color": "#c00000"}]))
        page.set_input_files("#hints-load", str(tmp_path / "load.json"))
        wait_for_render(page, 6)
        assert page.get_attribute("body", "data-hints") == "1"
        red = _bytes(download(page, tmp_path / "red.png"))
        assert ab_at(red, 31, 21)[0] > 0.2

        Image.new("RGB", (80, 40), (30, 120, 40)).save(tmp_path / "reference.png")  # a colour reference photo
        page.set_input_files("#reference", str(tmp_path / "reference.png"))
        wait_for_render(page, 7)
        assert "reference reference.png" in page.text_content("#result-info")
        assert page.is_visible("#reference-clear")

        (tmp_path / "bad.json").write_text('{"not": "a list"}')
        page.set_input_files("#hints-load", str(tmp_path / "bad.json"))
        # expect() polls from Playwright's side: the page's CSP (script-src 'self') forbids the eval that
        # wait_for_function needs once the text is not there on the first look
        sync_api.expect(page.locator("#status-text")).to_contain_text("not a hints file", timeout=TIMEOUT_MS)
    assert not errors, f"errors in the page: {errors}"


def test_drag_paints_a_stroke_that_is_sent_saved_recoloured_removed_and_loaded(server_url, tmp_path, monkeypatch):
    import chromatize.hints

    sent = []  # the hints fields the server received (the endpoint imports hints_from_json at each call)
    parse = chromatize.hints.hints_from_json
    monkeypatch.setattr(chromatize.hints, "hints_from_json", lambda text: sent.append(json.loads(text)) or parse(text))
    photo = two_tone(160, 80)  # left half light, right half dark
    photo.save(tmp_path / "two.png")
    with opened_page(server_url, tmp_path / "two.png") as (page, errors):
        before = _bytes(download(page, tmp_path / "before.png"))  # the plain model's tint

        page.check("#hint-mode")
        box = page.locator("#compare").bounding_box()
        at = lambda fx, fy: (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)  # noqa: E731
        page.mouse.move(*at(0.1, 0.3))
        page.mouse.down()
        page.mouse.move(*at(0.4, 0.3), steps=12)  # along the top of the light region, then down
        page.mouse.move(*at(0.4, 0.7), steps=8)
        page.mouse.up()
        page.wait_for_selector('body[data-hints="1"][data-strokes="1"]', state="attached", timeout=TIMEOUT_MS)
        assert page.locator(".marker").count() == 0 and page.locator("polyline.stroke-line").count() == 1
        wait_for_render(page, 2)
        assert len(sent) == 1 and len(sent[0]) == 1 and len(sent[0][0]["points"]) >= 5  # sent as points

        page.fill("#hint-color", "#1f3a93")  # the new stroke is selected: recolour it navy
        wait_for_render(page, 3)
        assert page.get_attribute("polyline.stroke-line", "stroke") == "#1f3a93"
        navy = _bytes(download(page, tmp_path / "navy.png"))
        for x, y in [(17, 24), (40, 24), (63, 24), (63, 40), (63, 55)]:  # along the stroke: navy now
            assert ab_at(navy, x, y)[1] < -0.2 and (ab_at(navy, x, y) - ab_at(before, x, y)).abs().max() > 0.2, (x, y)
        assert ab_at(navy, 140, 40).abs().max() < 0.05, "the region across the edge is not"
        page.screenshot(path=str(ARTIFACTS / "browser-strokes.png"), full_page=True)

        with page.expect_download(timeout=TIMEOUT_MS) as info:
            page.click("#hints-save")
        info.value.save_as(tmp_path / "saved.json")
        saved = json.loads((tmp_path / "saved.json").read_text())
        assert len(saved) == 1 and saved[0]["color"] == "#1f3a93" and saved[0]["points"] == sent[-1][0]["points"]
        (x0, y0), (x1, y1) = saved[0]["points"][0], saved[0]["points"][-1]
        assert abs(x0 - 16) <= 2 and abs(y0 - 24) <= 2 and abs(x1 - 64) <= 2 and abs(y1 - 56) <= 2

        page.mouse.click(*at(0.8, 0.5))  # a click still places a dot
        page.wait_for_selector('body[data-hints="2"][data-strokes="1"]', state="attached", timeout=TIMEOUT_MS)
        wait_for_render(page, 4)
        page.click("#hint-list li.stroke")  # select the stroke from the list and remove it
        assert page.locator("#hint-color").input_value() == "#1f3a93"
        assert page.get_attribute("polyline.stroke-edge", "class") == "stroke-edge selected"
        page.click("#hint-remove")
        page.wait_for_selector('body[data-hints="1"][data-strokes="0"]', state="attached", timeout=TIMEOUT_MS)
        wait_for_render(page, 5)

        (tmp_path / "load.json").write_text(json.dumps([{"points": [[100, 10], [150, 70]], "color": "#c00000"}]))
        page.set_input_files("#hints-load", str(tmp_path / "load.json"))
        page.wait_for_selector('body[data-hints="1"][data-strokes="1"]', state="attached", timeout=TIMEOUT_MS)
        wait_for_render(page, 6)
        red = _bytes(download(page, tmp_path / "red.png"))
        assert ab_at(red, 125, 40)[0] > 0.2 and ab_at(red, 30, 40).abs().max() < 0.05
    assert not errors, f"errors in the page: {errors}"
