"""Fuzzing the image reader, the upload decoder and the HTTP upload path with Hypothesis.

Every input must end in a result or a clear error (``ImageReadError`` / a 4xx with a JSON detail), within
a time bound and with bounded memory. CI runs a bounded number of examples per target; a longer local run:

    CHROMATIZE_FUZZ_EXAMPLES=2000 PYTHONPATH=src python -m pytest -q tests/test_fuzz.py --hypothesis-show-statistics

(figures in docs/RELIABILITY.md). Colour hints and reference uploads are fuzzed in tests/test_fuzz_hints.py,
video in tests/test_video_fuzz.py.
"""

from __future__ import annotations

import io
import json
import os
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from chromatize.io import ImageReadError, ImageTooLargeError, load_image
from hostile import BOMBS, FORMATS, bit_flip, odd_images, seed_image

#: Examples per fuzz target (CI default; raise it for a long local run).
EXAMPLES = int(os.environ.get("CHROMATIZE_FUZZ_EXAMPLES", "60"))
#: Seconds one input may take to be read or refused (generous: CI shares 2 cores).
TIME_BOUND = float(os.environ.get("CHROMATIZE_FUZZ_TIME_BOUND", "3.0"))
#: Bytes of Python/NumPy memory one small hostile input may allocate while being read.
MEMORY_BOUND = 64 * 2**20
CORPUS = Path(__file__).resolve().parent / "corpus"

fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                database=None, derandomize=os.environ.get("CHROMATIZE_FUZZ_RANDOM") is None)


def _seeds() -> dict[str, bytes]:
    seeds = {f"{fmt}-{mode}": seed_image(fmt, 24, 16, mode) for fmt in FORMATS for mode in ("L", "RGB")}
    seeds["TIFF-16"] = odd_images()["rgb16.tif"]
    seeds["TIFF-float"] = odd_images()["float32.tif"]
    seeds["PNG-16"] = odd_images()["i16.png"]
    seeds["GIF-animated"] = odd_images()["animated.gif"]
    seeds["JPEG-exif"] = odd_images()["exif-truncated.jpg"]
    return seeds


SEEDS = _seeds()


@st.composite
def damaged(draw) -> bytes:
    """A valid seed image, then truncated, bit-flipped, overwritten, spliced or with bytes inserted."""
    data = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "splice", "header-flip"]))
    n = len(data)
    if how == "truncate":
        return data[: draw(st.integers(0, n - 1))]
    if how == "flip":
        return bit_flip(data, draw(st.lists(st.integers(0, 8 * n), min_size=1, max_size=8)))
    if how == "header-flip":  # the first bytes hold the sizes and modes: damage there reaches the decoder's set-up
        return bit_flip(data, draw(st.lists(st.integers(0, 8 * min(n, 64)), min_size=1, max_size=4)))
    at = draw(st.integers(0, n - 1))
    chunk = draw(st.binary(min_size=1, max_size=64))
    if how == "overwrite":
        return data[:at] + chunk + data[at + len(chunk) :]
    if how == "insert":
        return data[:at] + chunk + data[at:]
    other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    return data[:at] + other[draw(st.integers(0, len(other) - 1)) :]


def check_read(data: bytes, *, max_pixels: int | None = 10**7):
    """Read ``data``: a well-formed result or an ImageReadError, within the time and memory bounds."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_image(io.BytesIO(data), max_pixels=max_pixels, name="fuzz")
    except ImageReadError as e:
        loaded = e
        assert str(e).startswith("cannot read fuzz: ") and "\n" not in str(e)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < TIME_BOUND, f"took {elapsed:.2f} s"
    assert peak < MEMORY_BOUND, f"allocated {peak / 2**20:.0f} MiB"
    if not isinstance(loaded, ImageReadError):
        rgb = loaded.rgb
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and min(rgb.shape[:2]) >= 1
        assert rgb.dtype in (np.uint8, np.uint16, np.float32)
        if rgb.dtype == np.float32:
            assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1
        assert loaded.alpha is None or loaded.alpha.shape == rgb.shape[:2]
    return loaded


# ---------------------------------------------------------------- the reader (chromatize.io.load_image)


@fuzz
@given(st.binary(max_size=2048))
def test_reader_random_bytes(data):
    check_read(data)


@fuzz
@given(st.sampled_from(sorted(SEEDS)).flatmap(lambda k: st.just(SEEDS[k][:8]) | st.just(SEEDS[k][:32])).flatmap(
    lambda head: st.binary(max_size=512).map(lambda tail: head + tail)))
def test_reader_valid_signature_then_garbage(data):
    check_read(data)


@fuzz
@given(damaged())
def test_reader_damaged_images(data):
    check_read(data)


@fuzz
@given(st.sampled_from(sorted(BOMBS)), st.integers(1, 65_535), st.integers(1, 65_535))
def test_declared_size_is_checked_before_decoding(fmt, width, height):
    """Any declared size: over the limit is refused from the header (fast, no pixel memory), under it reads or fails."""
    limit = 250_000
    result = check_read(BOMBS[fmt](width, height), max_pixels=limit)
    if width * height > limit:
        assert isinstance(result, ImageReadError), "decoded an image over the pixel limit"
        if fmt != "WEBP":  # libwebp rejects a canvas that disagrees with its image before any size is known
            assert isinstance(result, ImageTooLargeError) and "exceeds the limit" in str(result)


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_decompression_bomb_in_every_format_is_refused_from_the_header(fmt):
    for max_pixels in (None, 10**6):
        error = check_read(BOMBS[fmt](), max_pixels=max_pixels)
        assert isinstance(error, ImageTooLargeError), (fmt, error)
        assert "exceeds the limit" in error.reason and "could be decompression bomb" not in error.reason


@pytest.mark.parametrize("name", sorted(odd_images()))
def test_odd_but_valid_images_are_read(name):
    loaded = check_read(odd_images()[name], max_pixels=None)
    assert not isinstance(loaded, ImageReadError), loaded


# ---------------------------------------------------------------- regression corpus


def corpus_cases() -> list[tuple[str, dict]]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return sorted(manifest.items())


@pytest.mark.parametrize("name,case", corpus_cases(), ids=[n for n, _ in corpus_cases()])
def test_corpus_of_once_failing_inputs(name, case):
    """Files that once broke something (see the manifest's ``bug``); each must now give its expected outcome."""
    data = (CORPUS / name).read_bytes()
    result = check_read(data, max_pixels=case.get("max_pixels", 10**7))
    if case["expect"] == "ok":
        assert not isinstance(result, ImageReadError), result
        if "pixels" in case:
            assert np.allclose(np.asarray(result.rgb[..., 0], np.float64).ravel(), case["pixels"], atol=1e-6)
    else:
        assert isinstance(result, ImageReadError) and case["expect"] in str(result), result


# ---------------------------------------------------------------- the upload decoder and the HTTP path


fastapi = pytest.importorskip("fastapi", reason="needs the [server] extra")
from fastapi.testclient import TestClient  # noqa: E402

from chromatize.server import ServerConfig, create_app  # noqa: E402
from chromatize.server.uploads import UploadRejected, decode_upload  # noqa: E402


class EchoColorizer:
    """Returns the upload's own pixels as 8-bit RGB: the HTTP path without the network's cost."""

    def prepare(self, **overrides):  # the server resolves each request's settings first, as for a real one
        from chromatize.checkpoint import Readout
        from chromatize.inference.settings import resolve_settings

        return resolve_settings(Readout(), model_name="fake", **overrides)

    def colorize_array(self, rgb, settings):
        from chromatize.io import to_float32

        return (to_float32(rgb) * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def echo_client():
    with TestClient(create_app({"echo": EchoColorizer()}, ServerConfig(max_pixels=2_000_000, max_upload_bytes=2**20))) as c:
        yield c


def check_response(r, allowed=(200, 400, 413, 415, 422)) -> None:
    assert r.status_code in allowed, (r.status_code, r.text[:300])
    if r.status_code != 200:
        assert r.headers["content-type"].startswith("application/json"), r.headers
        assert r.json()["detail"]


@fuzz
@given(damaged() | st.binary(max_size=1024))
def test_upload_decoder(data):
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upload = decode_upload(data, max_pixels=10**6)
        assert upload.rgb.ndim == 3
    except UploadRejected as e:
        assert e.status in (400, 413, 415) and e.message and "\n" not in e.message
    assert time.perf_counter() - start < TIME_BOUND


@fuzz
@given(damaged())
def test_http_upload_of_damaged_images(echo_client, data):
    r = echo_client.post("/api/colorize", files={"image": ("photo.png", data, "image/png")})
    check_response(r)
    if r.status_code == 200:
        assert Image.open(io.BytesIO(r.content)).size == Image.open(io.BytesIO(data)).size


def _part(name: bytes, body: bytes, filename: bytes | None = None, ctype: bytes | None = b"image/png") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    head = disposition + (b"\r\nContent-Type: " + ctype if ctype else b"")
    return head + b"\r\n\r\n" + body


@st.composite
def multipart_bodies(draw) -> tuple[bytes, str]:
    """A multipart body, well formed or not: odd boundaries, missing or repeated parts, odd names and values."""
    boundary = draw(st.sampled_from([b"xYz", b"a" * 70, b"----WebKitFormBoundary7MA4YWxk", b"b\"q"]))
    image = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    field = st.sampled_from([b"model", b"render_size", b"saturation", b"format", b"image", b"\xff\xfe", b"", b"x" * 300])
    value = st.sampled_from([b"echo", b"64", b"-1", b"1e9", b"nan", b"inf", b"png", b"jpeg", b"../../etc/passwd", b"\x00", b"9" * 400])
    filename = st.sampled_from([b"p.png", b"../../../etc/passwd", b"C:\\x\\..\\y.png", b"\xc3\x28.png", b"", b"a\"b.png", b"%2e%2e%2f"])
    parts = [_part(b"image", image, draw(filename), draw(st.sampled_from([b"image/png", b"image/jpeg", b"text/plain", b"", None])))]
    for _ in range(draw(st.integers(0, 5))):
        parts.append(_part(draw(field), draw(value), draw(st.none() | filename), None))
    parts = draw(st.permutations(parts))
    dash = b"--" + boundary
    body = b"".join(dash + b"\r\n" + p + b"\r\n" for p in parts) + dash + b"--\r\n"
    damage = draw(st.sampled_from(["none", "no-final", "truncate", "flip", "lf-only"]))
    if damage == "no-final":
        body = body[: -len(dash) - 4]
    elif damage == "truncate":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "flip":
        body = bit_flip(body, draw(st.lists(st.integers(0, 8 * len(body)), min_size=1, max_size=6)))
    elif damage == "lf-only":
        body = body.replace(b"\r\n", b"\n")
    ctype = draw(st.sampled_from([f"multipart/form-data; boundary={boundary.decode('latin-1')}", "multipart/form-data",
                                  "multipart/form-data; boundary=other", "application/x-www-form-urlencoded", "text/plain"]))
    return body, ctype


@fuzz
@given(multipart_bodies())
def test_http_malformed_multipart_bodies(echo_client, body_and_type):
    body, ctype = body_and_type
    r = echo_client.post("/api/colorize", content=body, headers={"content-type": ctype})
    check_response(r)
    assert echo_client.get("/healthz").json()["busy"] == 0


@pytest.mark.parametrize("name", [n for n, _ in corpus_cases()])
def test_corpus_through_http(echo_client, name):
    r = echo_client.post("/api/colorize", files={"image": (name, (CORPUS / name).read_bytes(), "application/octet-stream")})
    check_response(r)


@pytest.fixture(scope="module")
def tiny_client(tmp_path_factory):
    from chromatize.checkpoint import save_checkpoint
    from chromatize.registry import create_model

    path = save_checkpoint(tmp_path_factory.mktemp("m") / "tiny.safetensors", create_model("baseline", width=4))
    with TestClient(create_app({"tiny": path}, ServerConfig(max_pixels=2_000_000))) as c:
        yield c


@pytest.mark.parametrize("name", sorted(odd_images()) + [f"bomb-{f}" for f in sorted(BOMBS)])
def test_http_odd_images_and_bombs_through_a_real_model(tiny_client, name):
    data = BOMBS[name[5:]]() if name.startswith("bomb-") else odd_images()[name]
    r = tiny_client.post("/api/colorize", files={"image": (name, data, "application/octet-stream")}, data={"render_size": "32"})
    if name.startswith("bomb-"):
        assert r.status_code == 413, r.text
        detail = r.json()["detail"]
        assert "--max-megapixels" in detail and "2,000,000 pixels" in detail and "decompression bomb" not in detail
        return
    assert r.status_code == 200, r.text
    expected = load_image(io.BytesIO(data)).size
    assert Image.open(io.BytesIO(r.content)).size == expected


# ---------------------------------------------------------------- the command line


def test_cli_reports_each_hostile_file_in_one_line(tmp_path):
    """``chromatize colorize`` over every hostile file at once: good ones written, each bad one one line, no traceback."""
    import subprocess
    import sys

    from chromatize.checkpoint import save_checkpoint
    from chromatize.registry import create_model

    folder = tmp_path / "hostile"
    folder.mkdir()
    suffix = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}
    files = {f"bomb{suffix[f]}": BOMBS[f]() for f in BOMBS}
    files.update({name.replace("100000", "1e5"): data for name, data in odd_images().items()})
    files.update({"random.jpg": np.random.default_rng(1).bytes(3000), "empty.png": b"",
                  "truncated.png": seed_image("PNG", 64, 48)[:150], "flipped.jpg": bit_flip(seed_image("JPEG", 64, 48), [900, 1400])})
    files.update({f"corpus-{n}": (CORPUS / n).read_bytes() for n, _ in corpus_cases()})
    for name, data in files.items():  # unique stems: an output per input
        (folder / f"{Path(name).stem}_{Path(name).suffix[1:]}{Path(name).suffix}").write_bytes(data)
    model = save_checkpoint(tmp_path / "tiny.safetensors", create_model("baseline", width=4))
    src = Path(__file__).resolve().parents[1] / "src"
    cmd = [sys.executable, "-m", "chromatize", "colorize", "-q", *sorted(map(str, folder.iterdir())), "-o", str(tmp_path / "out"),
           "--model", str(model), "--render-size", "32"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(src)))
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    summary = [line for line in lines if " done, " in line]
    failed = [line for line in lines if line.startswith("  failed: ")]
    assert len(summary) == 1 and len(lines) == 1 + len(failed), lines
    done, n_failed = int(summary[0].split()[0]), int(summary[0].split(", ")[-1].split()[0])
    assert r.returncode == 1 and n_failed == len(failed) and done + n_failed == len(files)
    bad = {"bomb_png.png", "bomb_jpg.jpg", "bomb_gif.gif", "bomb_bmp.bmp", "bomb_tif.tif", "bomb_webp.webp", "random_jpg.jpg",
           "empty_png.png", "truncated_png.png", "corpus-png-bomb-100000x100000_png.png", "corpus-tiff16-rgb-tifffile-empty_tif.tif"}
    assert {Path(line.split(": ")[1]).name for line in failed} == bad
    assert all("exceeds the limit" in line for line in failed if "bomb" in line)
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert len(written) == done and {"1x1_png.png", "cmyk_jpg.jpg", "lab_tif.tif", "animated_gif.png", "float32-nan-inf_tif.tif",
                                     "rgb16_tif.tif", "exif-truncated_jpg.jpg", "1x1e5_png.png"} <= written
