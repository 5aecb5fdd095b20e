"""Security: no pickle code runs from a checkpoint, altered or mismatched weights are refused in one line,
no path traversal, loopback by default, a strict Content-Security-Policy, ``HEAD /``."""

from __future__ import annotations

import inspect
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from chromatize.checkpoint import load_model, read_checkpoint, save_checkpoint
from chromatize.registry import create_model

SRC = Path(__file__).resolve().parents[1] / "src"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.run([sys.executable, "-m", "chromatize", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


class _Payload:
    """Pickles to a call of os.system: what a hostile .pt file would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    model = create_model("baseline", width=4)
    good_st = save_checkpoint(tmp_path / "good.safetensors", model)
    good_pt = save_checkpoint(tmp_path / "good.pt", model)
    out = {"good.safetensors": good_st, "good.pt": good_pt}

    raw = good_st.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    flipped = bytearray(raw)
    flipped[8 + n + 5] ^= 0x40  # one bit of one weight: the format itself cannot tell
    out["tampered.safetensors"] = tmp_path / "tampered.safetensors"
    out["tampered.safetensors"].write_bytes(bytes(flipped))

    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["chromatize"])
    meta["arch"]["kwargs"]["width"] = 8  # header says another network than the weights are for
    meta.pop("digest")
    header["__metadata__"]["chromatize"] = json.dumps(meta)
    blob = json.dumps(header).encode()
    out["mismatched.safetensors"] = tmp_path / "mismatched.safetensors"
    out["mismatched.safetensors"].write_bytes(struct.pack("<Q", len(blob)) + blob + raw[8 + n :])

    ckpt = torch.load(good_pt, weights_only=True)
    key = next(iter(ckpt["model_state"]))
    ckpt["model_state"][key] = ckpt["model_state"][key] + 1e-3  # weights edited, digest kept
    out["tampered.pt"] = tmp_path / "tampered.pt"
    torch.save(ckpt, out["tampered.pt"])

    out["truncated.safetensors"] = tmp_path / "truncated.safetensors"
    out["truncated.safetensors"].write_bytes(raw[: len(raw) // 2])
    out["truncated.pt"] = tmp_path / "truncated.pt"
    out["truncated.pt"].write_bytes(good_pt.read_bytes()[:700])
    out["pickle.pt"] = tmp_path / "pickle.pt"
    torch.save({"format": "chromatize-checkpoint/1", "model_state": _Payload(tmp_path / "PWNED")}, out["pickle.pt"])
    return out


def test_pickle_in_a_checkpoint_never_runs(files, tmp_path):
    with pytest.raises(ValueError, match="not a chromatize checkpoint"):
        load_model(files["pickle.pt"])
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("name,message", [
    ("tampered.safetensors", "altered or damaged"), ("tampered.pt", "altered or damaged"),
    ("mismatched.safetensors", "do not fit the network"), ("truncated.safetensors", "chromatize checkpoint"),
    ("truncated.pt", "chromatize checkpoint"), ("pickle.pt", "not a chromatize checkpoint"),
])
def test_bad_checkpoints_are_refused_with_a_clear_error(files, name, message):
    with pytest.raises(ValueError, match=message) as info:
        load_model(files[name])
    assert "\n" not in str(info.value) and str(files[name]) in str(info.value)


def test_good_checkpoints_carry_and_pass_their_digest(files):
    for name in ("good.safetensors", "good.pt"):
        assert read_checkpoint(files[name])["digest"].startswith("sha256:")
        load_model(files[name])


def test_cli_refuses_bad_checkpoints_in_one_line(files, tmp_path):
    Image.new("L", (12, 10), 100).save(tmp_path / "p.png")
    for name, needle in (("tampered.safetensors", "altered"), ("mismatched.safetensors", "do not fit"), ("pickle.pt", "not a chromatize")):
        _one_line_error(_cli("colorize", "-q", "p.png", "--model", str(files[name]), cwd=tmp_path), name, needle)
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "p_color.png").exists()


# ---------------------------------------------------------------- server

fastapi = pytest.importorskip("fastapi", reason="needs the [server] extra")
from fastapi.testclient import TestClient  # noqa: E402

from chromatize.server import ServerConfig, create_app  # noqa: E402
from chromatize.server import app as app_module  # noqa: E402
from chromatize.server.run import serve  # noqa: E402
from hostile import seed_image  # noqa: E402


@pytest.fixture
def client(files):
    with TestClient(create_app({"good": files["good.safetensors"], "tampered": files["tampered.safetensors"]})) as c:
        yield c


def test_tampered_model_is_a_clear_500_and_others_still_work(client):
    png = seed_image("PNG")
    r = client.post("/api/colorize", files={"image": ("p.png", png, "image/png")}, data={"model": "tampered"})
    assert r.status_code == 500 and "altered or damaged" in r.json()["detail"]
    assert client.post("/api/colorize", files={"image": ("p.png", png, "image/png")}).status_code == 200


@pytest.mark.parametrize("url", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/%2e%2e%2fapp.py",
                                 "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/..%2f..%2fetc%2fpasswd"])
def test_no_path_traversal_through_static_files(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404), (url, r.status_code)
    assert "create_app" not in r.text and "root:" not in r.text


@pytest.mark.parametrize("filename", ["../../../../tmp/evil.png", "/etc/passwd", "..\\..\\x.png", "a\r\nX-Injected: 1.png"])
def test_upload_file_names_are_never_used(client, tmp_path, monkeypatch, filename):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    r = client.post("/api/colorize", files={"image": (filename, seed_image("PNG"), "image/png")})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'inline; filename="colorized.png"' and "x-injected" not in r.headers
    assert sorted(tmp_path.rglob("*")) == before and not Path("/tmp/evil.png").exists()


def test_server_binds_loopback_by_default():
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    from chromatize.cli import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"


def test_page_csp_is_strict_and_the_page_needs_nothing_it_forbids(client):
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert policy == app_module.PAGE_CSP
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert not re.search(r"unsafe-|\*|https?:|data: .*script", policy)
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script: the CSP would block it"
    assert "<style" not in html and not re.search(r"\sstyle=", html) and not re.search(r"\son\w+=", html)


def test_head_of_the_page_answers(client):
    r = client.head("/")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-security-policy"] == app_module.PAGE_CSP
    assert r.headers["content-type"].startswith("text/html")


def test_serve_max_megapixels_above_pillows_guard_is_honoured(files, monkeypatch):
    """``--max-megapixels 400`` must not be undercut by Pillow's own guard (about 179 MP)."""
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(kw))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    serve([str(files["good.safetensors"])], config=ServerConfig(max_pixels=400_000_000))
    assert started["host"] == "127.0.0.1" and 2 * Image.MAX_IMAGE_PIXELS >= 400_000_000
