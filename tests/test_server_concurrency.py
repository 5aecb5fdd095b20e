"""The web API under load: a full queue answers 503 and recovers, concurrent requests each get their own
result, a model file is loaded once however many requests first need it."""

from __future__ import annotations

import asyncio
import io
import threading

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="needs the [server] extra")
httpx = pytest.importorskip("httpx", reason="needs httpx (the [dev] extra)")

from chromatize.server import ModelStore, ServerConfig, create_app  # noqa: E402
from chromatize.server import models as models_module  # noqa: E402
from test_server import assert_json_error, encode, gray_photo, tinted  # noqa: E402,F401  (tinted is a fixture)


class GatedColorizer:
    """A fake colorizer that holds every call until ``gate`` is set; returns the (8-bit) input unchanged."""

    def __init__(self):
        self.gate = threading.Event()

    def prepare(self, **overrides):  # the server resolves each request's settings first, as for a real one
        from chromatize.checkpoint import Readout
        from chromatize.inference.settings import resolve_settings

        return resolve_settings(Readout(), model_name="gated", **overrides)

    def colorize_array(self, rgb, settings):
        assert self.gate.wait(30), "test never opened the gate"
        return rgb


def test_full_queue_answers_503_and_recovers():
    fake = GatedColorizer()
    app = create_app({"slow": fake}, ServerConfig(workers=1, queue_limit=1))
    data = encode(gray_photo(16, 16))

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            send = lambda: c.post("/api/colorize", files={"image": ("p.png", data, "image/png")})  # noqa: E731
            held = [asyncio.create_task(send()) for _ in range(2)]  # one running, one queued
            for _ in range(500):
                if app.state.pool.admitted == 2:
                    break
                await asyncio.sleep(0.01)
            busy = await send()
            health = (await c.get("/healthz")).json()
            fake.gate.set()
            done = await asyncio.gather(*held)
            after = await send()
            return busy, health, done, after

    try:
        busy, health, done, after = asyncio.run(scenario())
    finally:
        fake.gate.set()
    assert_json_error(busy, 503)
    assert busy.headers["retry-after"] == "1"
    assert health["busy"] == 2 and health["capacity"] == 2
    assert [r.status_code for r in done] == [200, 200] and after.status_code == 200


def test_concurrent_requests_each_get_their_own_result(tinted):
    sizes = [(24, 40), (40, 24), (32, 32), (48, 20), (20, 48), (36, 28)]
    photos = [gray_photo(h, w, seed=i) for i, (h, w) in enumerate(sizes)]
    app = create_app({"tinted": tinted}, ServerConfig(workers=2, queue_limit=8))

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            send = lambda p, s: c.post(  # noqa: E731
                "/api/colorize", files={"image": ("p.png", encode(p), "image/png")}, data={"saturation": str(s)}
            )
            together = await asyncio.gather(*(send(p, 0.5 + 0.25 * i) for i, p in enumerate(photos)))
            one_by_one = [await send(p, 0.5 + 0.25 * i) for i, p in enumerate(photos)]
            return together, one_by_one

    together, one_by_one = asyncio.run(scenario())
    for photo, r, ref in zip(photos, together, one_by_one):
        assert r.status_code == 200, r.text
        out = Image.open(io.BytesIO(r.content))
        assert out.size == photo.size
        assert np.abs(np.asarray(out, np.int16) - np.asarray(Image.open(io.BytesIO(ref.content)), np.int16)).max() <= 1


def test_model_files_load_once_under_concurrent_first_use(tinted, monkeypatch):
    calls = []
    original = models_module.Colorizer.from_pretrained

    def counting(path, **kw):
        calls.append(path)
        return original(path, **kw)

    monkeypatch.setattr(models_module.Colorizer, "from_pretrained", staticmethod(counting))
    store = ModelStore({"tinted": tinted})
    assert not store.is_loaded("tinted")
    barrier, got = threading.Barrier(8), []

    def first_use():
        barrier.wait()
        got.append(store.get("tinted"))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 8 and all(g is got[0] for g in got)
    assert store.is_loaded("tinted") and store.describe()[0]["arch"] == "baseline"
