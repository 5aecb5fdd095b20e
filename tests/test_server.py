"""The web API through FastAPI's TestClient / httpx: happy path, every limit, the CLI (under load:
test_server_concurrency.py)."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="needs the [server] extra")
httpx = pytest.importorskip("httpx", reason="needs httpx (the [dev] extra)")
from fastapi.testclient import TestClient  # noqa: E402

from chromatize import color  # noqa: E402
from chromatize.checkpoint import save_checkpoint  # noqa: E402
from chromatize.registry import create_model  # noqa: E402
from chromatize.server import ServerConfig, create_app, model_table  # noqa: E402
from chromatize.server import app as app_module  # noqa: E402
from chromatize.server import models as models_module  # noqa: E402


# ---------------------------------------------------------------- helpers shared with test_browser.py


def save_tinted_model(path: Path, bias: tuple[float, float] = (0.3, 0.25)) -> Path:
    """A tiny random-init baseline whose output bias guarantees visible colour; saved as a checkpoint."""
    model = create_model("baseline", width=4)
    with torch.no_grad():
        model.up.bias.copy_(torch.tensor(bias))
    return save_checkpoint(path, model)


def gray_photo(height: int, width: int, seed: int = 0) -> Image.Image:
    """A gray 'photo': smooth gradient, a disc and a bar, light noise; mode "L"."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = 60 + 120 * (x / max(width - 1, 1)) * 0.5 + 60 * (y / max(height - 1, 1))
    cy, cx, r = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width, 0.25 * min(height, width)
    img[(y - cy) ** 2 + (x - cx) ** 2 < r**2] = 215
    img[:, int(0.1 * width) : int(0.1 * width) + max(1, width // 12)] = 35
    img += rng.normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def lab(image: Image.Image) -> np.ndarray:
    """PIL image -> Lab ``[3,H,W]`` (L 0..100)."""
    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    return color.rgb_to_lab(rgb).numpy()


def mean_chroma(image: Image.Image) -> float:
    """Mean Lab chroma sqrt(a^2 + b^2) of an image; 0 for gray."""
    _, a, b = lab(image)
    return float(np.hypot(a, b).mean())


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def tinted(tmp_path) -> Path:
    return save_tinted_model(tmp_path / "tinted.safetensors")


@pytest.fixture
def client(tinted):
    with TestClient(create_app({"tinted": tinted})) as c:
        yield c


def post(client, data: bytes, content_type: str = "image/png", name: str = "photo.png", **form):
    return client.post("/api/colorize", files={"image": (name, data, content_type)}, data={k: str(v) for k, v in form.items()})


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail
    return str(detail)


# ---------------------------------------------------------------- happy path


def test_colorize_returns_colour_image_of_same_size_with_input_lightness(client):
    photo = gray_photo(40, 56)
    r = post(client, encode(photo))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-chromatize-model"] == "tinted"
    out = Image.open(io.BytesIO(r.content))
    assert out.size == photo.size and out.mode == "RGB"
    assert mean_chroma(out) > 10
    assert np.median(np.abs(lab(out)[0] - lab(photo)[0])) < 1.0


def test_saturation_zero_gives_gray_and_jpeg_format(client):
    photo = gray_photo(32, 32)
    gray = Image.open(io.BytesIO(post(client, encode(photo), saturation=0).content))
    assert mean_chroma(gray) < 1.0
    r = post(client, encode(photo), format="jpeg", saturation=1.5, render_size=64)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "JPEG" and out.size == photo.size and mean_chroma(out) > 10


def test_alpha_is_kept_in_png(client):
    photo = gray_photo(24, 30).convert("LA")
    alpha = np.zeros((24, 30), np.uint8)
    alpha[:, 15:] = 255
    photo.putalpha(Image.fromarray(alpha, "L"))
    out = Image.open(io.BytesIO(post(client, encode(photo)).content))
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)


def test_exif_orientation_is_applied(client):
    photo = gray_photo(20, 36)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    r = post(client, encode(photo, "JPEG", exif=exif), content_type="image/jpeg", name="p.jpg")
    assert Image.open(io.BytesIO(r.content)).size == (20, 36)


def test_models_health_docs_and_page(client):
    info = client.get("/api/models").json()
    assert info["default"] == "tinted" and [m["name"] for m in info["models"]] == ["tinted"]
    assert info["limits"]["max_upload_bytes"] == ServerConfig().max_upload_bytes
    assert client.get("/healthz").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert "multipart/form-data" in schema["paths"]["/api/colorize"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert ref.startswith("/"), f"page refers to a non-local asset {ref}"
        assert client.get(ref).status_code == 200, ref
    for asset in sorted(app_module.STATIC_DIR.iterdir()):
        text = asset.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
        assert not re.search(r"https?://|//cdn", text), f"{asset.name} refers to an external URL"


# ---------------------------------------------------------------- limits and bad input


def test_upload_over_byte_limit_is_413(tinted):
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 48, 3), dtype=np.uint8))
    data = encode(noise)
    assert len(data) > 3000
    with TestClient(create_app({"tinted": tinted}, ServerConfig(max_upload_bytes=3000))) as c:
        assert "3000 bytes" in assert_json_error(post(c, data), 413)  # checked by the endpoint
        assert_json_error(post(c, data * 40), 413)  # refused from Content-Length, before parsing
        assert post(c, encode(gray_photo(16, 16))).status_code == 200


def test_chunked_upload_without_content_length_is_limited(tinted):
    app = create_app({"tinted": tinted}, ServerConfig(max_upload_bytes=3000))

    def chunked(data: bytes):
        req = httpx.Request("POST", "http://t/api/colorize", files={"image": ("p.png", data, "image/png")})
        body = req.read()

        async def chunks():
            for i in range(0, len(body), 1000):
                yield body[i : i + 1000]

        return {"content-type": req.headers["content-type"]}, chunks()

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            headers, body = chunked(encode(gray_photo(16, 16)))
            small = await c.post("/api/colorize", headers=headers, content=body)
            headers, body = chunked(b"\0" * 200_000)
            big = await c.post("/api/colorize", headers=headers, content=body)
            return small, big

    small, big = asyncio.run(scenario())
    assert small.status_code == 200, small.text
    assert_json_error(big, 413)


def test_image_over_pixel_limit_is_413(tinted):
    with TestClient(create_app({"tinted": tinted}, ServerConfig(max_pixels=1000))) as c:
        assert "pixels" in assert_json_error(post(c, encode(gray_photo(40, 40))), 413)
        assert post(c, encode(gray_photo(30, 30))).status_code == 200


def test_unaccepted_types_are_415(client):
    assert_json_error(post(client, b"hello", content_type="text/plain", name="a.txt"), 415)
    ppm = encode(gray_photo(16, 16), "PPM")  # an image format Pillow reads but the server does not accept
    assert "PPM" in assert_json_error(post(client, ppm, content_type="application/octet-stream", name="a"), 415)


@pytest.mark.parametrize(
    "make",
    [
        lambda: b"",
        lambda: np.random.default_rng(2).bytes(2000),
        lambda: encode(gray_photo(64, 64))[:300],
        lambda: encode(gray_photo(64, 64), "JPEG")[:400],
        lambda: encode(gray_photo(64, 64))[:100] + b"\0" * 200 + encode(gray_photo(64, 64))[300:],
    ],
    ids=["empty", "random-bytes", "truncated-png", "truncated-jpeg", "zeroed-png"],
)
def test_corrupt_image_is_400_and_server_stays_healthy(client, make):
    assert_json_error(post(client, make()), 400)
    assert post(client, encode(gray_photo(16, 16))).status_code == 200
    assert client.get("/healthz").json()["busy"] == 0


@pytest.mark.parametrize(
    "form",
    [{"model": "nope"}, {"model": "../tinted.safetensors"}, {"render_size": 8}, {"render_size": 99999},
     {"saturation": -1}, {"saturation": 50}, {"format": "gif"}],
)
def test_bad_parameters_are_422(client, form):
    assert_json_error(post(client, encode(gray_photo(16, 16)), **form), 422)


def test_model_name_is_never_a_path(client, tinted):
    assert_json_error(post(client, encode(gray_photo(16, 16)), model=str(tinted)), 422)


def test_broken_model_file_gives_clear_500(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with TestClient(create_app({"bad": bad})) as c:
        assert "could not be loaded" in assert_json_error(post(c, encode(gray_photo(16, 16))), 500)


# ---------------------------------------------------------------- model table and CLI


def test_model_table(tinted, tmp_path, monkeypatch):
    assert model_table([tinted]) == {"tinted": tinted}
    other = tmp_path / "sub"
    other.mkdir()
    with pytest.raises(ValueError, match="two models"):
        model_table([tinted, save_tinted_model(other / "tinted.safetensors")])
    with pytest.raises(FileNotFoundError):
        model_table([tmp_path / "missing.safetensors"])
    monkeypatch.setattr(models_module, "shipped_weights", lambda: {})
    with pytest.raises(FileNotFoundError, match="--model"):
        model_table(None)


def test_cli_serve_binds_localhost_by_default(tinted, monkeypatch):
    from chromatize.cli import main
    from chromatize.server import run as run_module

    seen = {}
    monkeypatch.setattr(run_module, "serve", lambda models, **kw: seen.update(models=models, **kw))
    assert main(["serve", "--model", str(tinted), "--workers", "2", "--queue", "3", "--max-upload-mb", "1"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8000 and seen["models"] == [str(tinted)]
    cfg = seen["config"]
    assert (cfg.workers, cfg.queue_limit, cfg.max_upload_bytes) == (2, 3, 2**20)
    assert main(["serve", "--workers", "0"]) == 2


def test_cli_parser_does_not_need_the_server_extra():
    code = "import sys; from chromatize.cli import build_parser; build_parser(); assert 'fastapi' not in sys.modules"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_chromatize_serve_runs_a_live_server(tinted):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "chromatize", "serve", "--model", str(tinted), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.25)
        r = httpx.post(url + "/api/colorize", files={"image": ("p.png", encode(gray_photo(20, 28)), "image/png")}, timeout=60)
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (28, 20)
    finally:
        proc.terminate()
        proc.wait(20)


def test_16_bit_colour_tiff_is_read_at_full_depth(client, tinted):
    """Uploads go through chromatize.io.load_image, like the CLI: 16-bit levels Pillow would drop still count."""
    import tifffile

    from chromatize.inference.pipeline import Colorizer

    ramp = (np.linspace(0, 65535, 48 * 40).reshape(40, 48) // 64 * 64 + 37).astype(np.uint16)
    rgb16 = np.stack([ramp] * 3, axis=-1)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb16, photometric="rgb")
    r = post(client, buf.getvalue(), "image/tiff", "scan.tif")
    assert r.status_code == 200, r.text
    served = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB"))
    expected = Colorizer.from_pretrained(tinted).colorize_array(rgb16)
    assert served.shape == (40, 48, 3) and np.array_equal(served, expected)
