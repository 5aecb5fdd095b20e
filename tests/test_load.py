"""A smaller run of benchmarks/load_test.py against a live ``chromatize serve`` on 127.0.0.1 (the full one: see
docs/RELIABILITY.md), and the server's memory release after each job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the [server] extra")
pytest.importorskip("httpx", reason="needs httpx (the [dev] extra)")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_load_against_a_live_server_on_loopback(tmp_path):
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "load_test.py"), "--model", "tiny", "--requests", "60",
           "--concurrency", "4", "--workers", "1", "--queue", "3", "--max-side", "160", "--warmup", "5", "--json", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(out.read_text())
    assert report["problems"] == []
    statuses = {int(k): v for k, v in report["statuses"].items()}
    assert sum(statuses.values()) == 60 and statuses.get(200, 0) >= 40
    assert not any(s >= 500 for s in statuses)  # within capacity: not even a 503
    assert report["hostile"] == 60 - statuses[200] and set(statuses) <= {200, 400, 413, 415, 422}
    burst = {int(k): v for k, v in report["burst"]["statuses"].items()}
    assert set(burst) == {200, 503} and burst[200] >= 4  # over capacity: the excess is refused, the rest served
    assert report["healthy_after"] and report["requests_per_s"] > 0
    lat = report["latency_s"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]


def test_each_job_gives_freed_memory_back(monkeypatch):
    import asyncio

    from chromatize.server import pool as pool_module

    calls = []
    monkeypatch.setattr(pool_module, "return_freed_memory", lambda: calls.append("trim"))
    pool = pool_module.InferencePool(workers=1, queue_limit=1)

    def boom():
        raise ValueError("bad upload")

    async def scenario():
        assert await pool.run(lambda x: x * 2, 21) == 42
        with pytest.raises(ValueError):
            await pool.run(boom)

    try:
        asyncio.run(scenario())
    finally:
        pool.shutdown()
    assert calls == ["trim", "trim"] and pool.admitted == 0
