"""The HTTP API's ``hints`` field and ``reference`` upload."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="needs the [server] extra")
pytest.importorskip("httpx", reason="needs httpx (the [dev] extra)")
from fastapi.testclient import TestClient  # noqa: E402

from chromatize.color import rgb_to_l_ab  # noqa: E402
from chromatize.server import ServerConfig, create_app  # noqa: E402
from test_hints import fill_colorizer  # noqa: E402
from test_server import encode, save_tinted_model  # noqa: E402


def two_tone(width: int = 64, height: int = 32) -> Image.Image:
    gray = np.full((height, width), 150, np.uint8)
    gray[:, width // 2 :] = 60
    return Image.fromarray(gray, "L")


@pytest.fixture
def client(tmp_path):
    models = {"plain": save_tinted_model(tmp_path / "plain.safetensors"), "hints": fill_colorizer(render_size=64)}
    with TestClient(create_app(models, ServerConfig(workers=1))) as c:
        yield c


def post(client, hints=None, reference=None, **form):
    files = {"image": ("p.png", encode(two_tone()), "image/png")}
    if reference is not None:
        files["reference"] = ("r.png", reference, "image/png")
    data = {**form, **({"hints": hints} if hints is not None else {})}
    return client.post("/api/colorize", files=files, data=data)


def ab_at(body: bytes, x: int, y: int) -> torch.Tensor:
    rgb = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
    return rgb_to_l_ab(torch.from_numpy(rgb[y, x]).view(1, 3, 1, 1).float() / 255)[1][0, :, 0, 0]


def test_hints_field_colours_the_photo_and_picks_the_hints_model(client):
    r = post(client, json.dumps([{"x": 8, "y": 16, "color": "#1f3a93"}]))
    assert r.status_code == 200, r.text
    assert r.headers["X-Chromatize-Model"] == "hints"  # no model named: the hint feature picks it
    assert ab_at(r.content, 10, 16)[1] < -0.2  # navy near the hint
    assert ab_at(r.content, 50, 16).abs().max() < 0.05  # not across the edge
    models = {m["name"]: m["hints"] for m in client.get("/api/models").json()["models"]}
    assert models == {"plain": False, "hints": True}


@pytest.mark.parametrize("hints, words", [
    ("not json", "not valid JSON"),
    ('{"x": 1}', "JSON list"),
    ('[{"x": 1, "y": 2, "color": "blurple"}]', "hint 1"),
    ('[{"x": 100, "y": 2, "color": "red"}]', "outside the 64x32 photo"),
    ('[{"points": [[1, 2], [64, 2]], "color": "red"}]', "hint 1 (stroke) point 2 at (64, 2) is outside the 64x32 photo"),
    ('[{"points": [[1, 2], [3, "a"]], "color": "red"}]', "hint 1 (stroke)"),
    (json.dumps([{"points": [[1, 1]] * 1001, "color": "red"}]), "1 to 1000 points"),
    (json.dumps([{"points": [[1, 1], [60, 30]] * 300, "color": "red"}]), "strokes are too long"),
])
def test_bad_hints_get_a_422_with_a_json_detail(client, hints, words):
    r = post(client, hints)
    assert r.status_code == 422 and words in r.json()["detail"]


def test_a_stroke_in_the_hints_field_colours_along_its_line(client):
    r = post(client, json.dumps([{"points": [[2, 4], [12, 28]], "color": "#1f3a93", "radius": 1}]))
    assert r.status_code == 200, r.text
    assert all(ab_at(r.content, x, y)[1] < -0.2 for x, y in [(2, 4), (7, 16), (12, 28)])  # navy along the stroke
    assert ab_at(r.content, 50, 16).abs().max() < 0.05  # not across the edge


def test_hints_for_a_model_that_takes_none_are_refused(client):
    r = post(client, json.dumps([{"x": 1, "y": 2, "color": "red"}]), model="plain")
    assert r.status_code == 422 and "model 'plain' takes no colour hints" in r.json()["detail"]


def test_reference_upload_is_decoded_and_damaged_ones_refused(client, monkeypatch):
    import chromatize.inference.reference as reference

    seen = {}

    def fake_reference_guide(encoder, L_small, ref, **kw):  # the matcher itself is tested in test_reference.py
        seen["shape"] = tuple(ref.shape)
        h, w = L_small.shape[-2:]
        return reference.ReferenceGuide(torch.zeros(1, 3, h, w), torch.zeros(1, 2, h, w), torch.zeros(1, 1, h, w))

    monkeypatch.setattr(reference, "reference_guide", fake_reference_guide)
    monkeypatch.setattr(type(client.app.state.store.get("hints")), "reference_encoder", lambda self: None)
    ref = encode(Image.new("RGB", (40, 30), (200, 30, 30)))
    assert post(client, reference=ref).status_code == 200 and seen["shape"] == (1, 3, 30, 40)
    r = post(client, reference=b"not an image at all")
    assert r.status_code in (400, 415) and "detail" in r.json()
