"""A real browser on the page: Debian's headless Chromium driven by Playwright against a live uvicorn server.

Skipped (with the reason) where /usr/bin/chromium or playwright is missing; CI installs both.
Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
]
TIMEOUT_MS = 60_000
MAX_UPLOAD = 300_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright; no browser download)")
uvicorn = pytest.importorskip("uvicorn", reason="needs the [server] extra")

from chromatize.server import ServerConfig, create_app  # noqa: E402
from test_server import encode, gray_photo, lab, mean_chroma, save_tinted_model  # noqa: E402


@contextlib.contextmanager
def live_server(app):
    """Serve ``app`` on a free 127.0.0.1 port in a thread; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        thread.join(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def server_url(tmp_path):
    """A live server serving a tiny tinted model."""
    app = create_app({"tinted": save_tinted_model(tmp_path / "tinted.safetensors")}, ServerConfig(workers=1, max_upload_bytes=MAX_UPLOAD))
    with live_server(app) as url:
        yield url


def download(page, path: Path) -> Image.Image:
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click("#download")
    info.value.save_as(path)
    return Image.open(path)


def wait_for_render(page, n: int) -> None:
    page.wait_for_selector(f'body[data-renders="{n}"][data-state="done"]', state="attached", timeout=TIMEOUT_MS)


def test_page_colorizes_a_photo_in_a_real_browser(server_url, tmp_path):
    photo = gray_photo(240, 360, seed=3)
    photo_path = tmp_path / "old-photo.png"
    photo.save(photo_path)
    ARTIFACTS.mkdir(exist_ok=True)
    foreign, errors = [], []

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True, viewport={"width": 1000, "height": 900})
            page.on("request", lambda r: r.url.startswith((server_url, "blob:", "data:")) or foreign.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(server_url + "/")
            page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=TIMEOUT_MS)
            assert page.locator("#model").input_value() == "tinted"

            noise = Image.fromarray(np.random.default_rng(5).integers(0, 255, (400, 400, 3), dtype=np.uint8))
            noise.save(tmp_path / "huge.png")
            assert (tmp_path / "huge.png").stat().st_size > MAX_UPLOAD
            page.set_input_files("#file", str(tmp_path / "huge.png"))
            page.wait_for_selector('body[data-state="error"]', state="attached", timeout=TIMEOUT_MS)
            assert "accepts up to" in page.text_content("#status-text")

            page.set_input_files("#file", str(photo_path))
            wait_for_render(page, 1)
            size = page.evaluate("(() => { const i = document.getElementById('after'); return [i.naturalWidth, i.naturalHeight]; })()")
            assert size == [360, 240]
            page.fill("#reveal", "30")
            assert "70%" in page.get_attribute("#after", "style")

            page.fill("#saturation", "0")  # re-renders: saturation 0 must come back gray
            wait_for_render(page, 2)
            gray = download(page, tmp_path / "gray.png")
            assert gray.size == photo.size and mean_chroma(gray) < 1.0

            page.fill("#saturation", "1.5")
            wait_for_render(page, 3)
            page.screenshot(path=str(ARTIFACTS / "browser-desktop.png"), full_page=True)
            vivid = download(page, tmp_path / "vivid.png")
            assert vivid.size == photo.size and vivid.mode == "RGB" and mean_chroma(vivid) > 10
            assert np.median(np.abs(lab(vivid)[0] - lab(photo)[0])) < 1.0

            dropped = base64.b64encode(encode(gray_photo(90, 60, seed=4))).decode()
            transfer = page.evaluate_handle(
                """(b64) => { const dt = new DataTransfer();
                   const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                   dt.items.add(new File([bytes], 'dropped.png', {type: 'image/png'})); return dt; }""",
                dropped,
            )
            page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
            wait_for_render(page, 4)
            assert download(page, tmp_path / "dropped.png").size == (60, 90)

            page.set_viewport_size({"width": 390, "height": 844})
            page.set_input_files("#file", str(photo_path))
            wait_for_render(page, 5)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, "page scrolls sideways on a phone"
            page.screenshot(path=str(ARTIFACTS / "browser-phone.png"), full_page=True)
        finally:
            browser.close()

    assert not foreign, f"page fetched from elsewhere: {foreign}"
    assert not errors, f"errors in the page: {errors}"


def _box(page, selector: str) -> dict:
    return page.evaluate(f"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();"
                         " return {top: r.top, bottom: r.bottom, width: r.width, height: r.height}; })()")


def test_bad_file_after_a_good_one_clears_the_result_and_layout_fits_a_desktop(server_url, tmp_path):
    small = gray_photo(120, 160, seed=6)  # smaller than the page: must not be blown up
    small.save(tmp_path / "small.png")
    large = gray_photo(900, 1400, seed=7)
    large.save(tmp_path / "large.jpg", quality=80)  # under the test server's upload limit
    (tmp_path / "broken.png").write_bytes(encode(gray_photo(64, 64))[:200])  # a truncated PNG: the server says 400
    ARTIFACTS.mkdir(exist_ok=True)
    errors = []

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server_url + "/")
            page.wait_for_selector('body[data-ready="1"]', state="attached", timeout=TIMEOUT_MS)

            page.set_input_files("#file", str(tmp_path / "small.png"))
            wait_for_render(page, 1)
            after = _box(page, "#after")
            assert after["width"] <= 160.5 and after["height"] <= 120.5, f"small photo blown up to {after}"
            assert 0 <= _box(page, "#compare")["top"] < 800, "result below the fold on a 1280x800 screen"

            page.set_input_files("#file", str(tmp_path / "large.jpg"))
            wait_for_render(page, 2)
            compare = _box(page, "#compare")
            assert compare["top"] >= 0 and compare["bottom"] <= 800, f"large photo does not fit the window: {compare}"
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            page.screenshot(path=str(ARTIFACTS / "browser-desktop-1280.png"))

            page.set_input_files("#file", str(tmp_path / "broken.png"))
            page.wait_for_selector('body[data-state="error"]', state="attached", timeout=TIMEOUT_MS)
            assert page.is_hidden("#result"), "the earlier result is still shown after an error"
            assert page.get_attribute("#after", "src") is None and page.get_attribute("#before", "src") is None
            assert page.get_attribute("#download", "aria-disabled") == "true" and page.get_attribute("#download", "href") is None
            assert page.text_content("#result-info") == ""
            assert "damaged" in page.text_content("#status-text") or "readable" in page.text_content("#status-text")
            footer = _box(page, "footer")
            assert footer["top"] < 800, "the error leaves room taken above the footer"
            page.screenshot(path=str(ARTIFACTS / "browser-error-after-good.png"))

            page.set_input_files("#file", str(tmp_path / "small.png"))  # and a good file works again
            wait_for_render(page, 3)
            assert page.is_visible("#result") and page.get_attribute("#download", "aria-disabled") == "false"
            assert page.evaluate("document.getElementById('before').naturalWidth") == 160
        finally:
            browser.close()
    assert not errors, f"errors in the page: {errors}"


def test_evaluation_report_fits_a_1280_px_screen(tmp_path):
    from chromatize.checkpoint import save_checkpoint
    from chromatize.evaluate import evaluate_folder
    from chromatize.registry import create_model

    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), "RGB").save(data / f"photo_with_a_long_name_{i}.png")
    models = []
    for i in range(4):  # four models with long paths: the widest tables a user is likely to make
        run = tmp_path / f"runs/an-experiment-with-a-long-name-{i}"
        models.append(save_checkpoint(run / "best.pt", create_model("baseline", width=4)))
    evaluate_folder(models, data, out=tmp_path / "out", size=32, best_worst=2, progress=False)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto((tmp_path / "out" / "report.html").as_uri())
            width = page.evaluate("document.documentElement.scrollWidth")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "evaluation-report-1280.png"))
        finally:
            browser.close()
    assert width <= 1280, f"the report is {width} px wide"
