"""A bounded load test of ``chromatize serve`` on loopback: throughput, latency percentiles and correctness.

Starts ``chromatize serve`` on 127.0.0.1 (never another address) and sends it concurrent uploads of varied
sizes and formats, some hostile (random bytes, truncated files, a decompression bomb, a wrong media type,
out-of-range parameters). Checks, and exits 1 when one fails:

- no 5xx, and every status is the one its request calls for (200, or 400/413/415/422 for the hostile ones);
- each 200 is the answer to its own upload: same size, and its Lab L equals that upload's (each photo differs);
- no 503 while at most ``workers + queue`` requests are in flight; then a burst of more than that gets some
  503s, each with ``Retry-After``, and only 200s besides;
- the server's memory (RSS) is flat over the run; afterwards ``/healthz`` says 0 busy and a request succeeds.

Prints requests/s and p50/p95/p99 latency (of the 200s) and writes them as JSON with ``--json``.

    PYTHONPATH=src python benchmarks/load_test.py                       # 300 requests, shipped default model
    PYTHONPATH=src python benchmarks/load_test.py --model tiny --requests 80 --json load.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HOST = "127.0.0.1"  # loopback only: this script never talks to another address


# ---------------------------------------------------------------- uploads


def gray_photo(width: int, height: int, seed: int) -> Image.Image:
    """A gray photo unique to ``seed``: a gradient at a random angle, a disc and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    img = 128 + 90 * np.sin((x * np.cos(angle) + y * np.sin(angle)) / max(width, height) * rng.uniform(2, 9))
    cy, cx, r = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width, rng.uniform(0.1, 0.3) * min(width, height)
    img[(y - cy) ** 2 + (x - cx) ** 2 < r**2] = rng.uniform(20, 235)
    img += rng.normal(0, 3, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


def png_bomb(side: int = 100_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))


def encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def make_requests(n: int, seed: int, max_side: int, hostile_share: float) -> list[dict]:
    """``n`` request plans: ``files``, ``data``, the expected status and, for good ones, the gray photo sent."""
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        if rng.random() < hostile_share:
            kind = rng.choice(["random-bytes", "truncated", "bomb", "text", "saturation", "render-size", "model"])
            photo = encode(gray_photo(40, 30, seed * 100_000 + i), "PNG")
            files, data, status = {"image": ("p.png", photo, "image/png")}, {}, 422
            if kind == "random-bytes":
                files, status = {"image": ("p.png", rng.randbytes(rng.randint(1, 5000)), "image/png")}, 400
            elif kind == "truncated":
                files, status = {"image": ("p.png", photo[: rng.randint(20, len(photo) - 20)], "image/png")}, 400
            elif kind == "bomb":
                files, status = {"image": ("bomb.png", png_bomb(), "image/png")}, 413
            elif kind == "text":
                files, status = {"image": ("a.txt", b"hello", "text/plain")}, 415
            elif kind == "saturation":
                data = {"saturation": rng.choice(["-1", "nan", "99"])}
            elif kind == "render-size":
                data = {"render_size": rng.choice(["0", "100000", "abc"])}
            else:
                data = {"model": rng.choice(["../../etc/passwd", "nope", "/tmp/x.safetensors"])}
            plans.append({"kind": kind, "files": files, "data": data, "expect": status})
            continue
        w, h = rng.randint(8, max_side), rng.randint(8, max_side)
        if rng.random() < 0.1:  # extreme aspect ratios
            w, h = (rng.randint(1, 4), rng.randint(200, max_side * 2)) if rng.random() < 0.5 else (rng.randint(200, max_side * 2), rng.randint(1, 4))
        photo = gray_photo(w, h, seed * 100_000 + i)
        fmt = rng.choice(["PNG", "JPEG"])
        body = encode(photo, fmt)
        sent = Image.open(io.BytesIO(body)).convert("L")  # what the server sees (JPEG is lossy)
        data = {"saturation": f"{rng.uniform(0.5, 2):.2f}", "format": rng.choice(["png", "jpeg"])}
        if rng.random() < 0.3:
            data["render_size"] = str(rng.choice([64, 128, 256]))
        plans.append({"kind": "photo", "files": {"image": (f"p{i}.{fmt.lower()}", body, f"image/{fmt.lower()}")},
                      "data": data, "expect": 200, "gray": np.asarray(sent)})
    return plans


def lightness(image: Image.Image) -> np.ndarray:
    """Lab L (0..100) of an image, computed the way chromatize does."""
    import torch

    from chromatize.color import rgb_to_lab

    rgb = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
    return rgb_to_lab(rgb)[0].numpy()


def matches_own_upload(plan: dict, content: bytes) -> str | None:
    """None when ``content`` is the colorization of this plan's own photo, else what is wrong."""
    out = Image.open(io.BytesIO(content))
    gray = plan["gray"]
    if out.size != (gray.shape[1], gray.shape[0]):
        return f"size {out.size} is not the upload's {(gray.shape[1], gray.shape[0])}"
    diff = np.abs(lightness(out) - lightness(Image.fromarray(gray, "L")))
    tolerance = 3.0 if plan["data"].get("format") == "jpeg" else 1.0  # the result's own JPEG rounding
    if float(np.median(diff)) > tolerance:
        return f"its lightness differs from the upload's by {float(np.median(diff)):.1f} (median): someone else's result?"
    return None


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def start_server(model: str, port: int, workers: int, queue: int, threads: int, backend: str | None) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "chromatize", "serve", "--host", HOST, "--port", str(port), "--model", model,
           "--workers", str(workers), "--queue", str(queue), *(["--backend", backend] if backend else [])]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def tiny_model(folder: Path) -> str:
    from chromatize.checkpoint import save_checkpoint
    from chromatize.registry import create_model

    return str(save_checkpoint(folder / "tiny.safetensors", create_model("baseline", width=4)))


# ---------------------------------------------------------------- client


async def send_all(url: str, plans: list[dict], concurrency: int, timeout: float) -> list[dict]:
    import httpx

    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one(plan: dict) -> dict:
            async with limit:
                start = time.perf_counter()
                r = await client.post("/api/colorize", files=plan["files"], data=plan["data"])
                return {"plan": plan, "status": r.status_code, "seconds": time.perf_counter() - start,
                        "content": r.content, "headers": dict(r.headers)}

        return await asyncio.gather(*(one(p) for p in plans))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp)) if args.model == "tiny" else args.model
        port = free_port()
        url = f"http://{HOST}:{port}"
        proc = start_server(model, port, args.workers, args.queue, args.threads, args.backend)
        try:
            return _drive(args, url, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _drive(args: argparse.Namespace, url: str, proc: subprocess.Popen) -> dict:
    import httpx

    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            if proc.poll() is not None:
                raise SystemExit(f"the server did not start: {proc.stderr.read()[-2000:]}")
            time.sleep(0.1)
    capacity = args.workers + args.queue
    concurrency = min(args.concurrency, capacity)  # phase 1 never exceeds what the server may admit: no 503 allowed
    problems: list[str] = []

    warm = make_requests(args.warmup, args.seed + 1, args.max_side, 0.0)
    asyncio.run(send_all(url, warm, concurrency, args.timeout))
    rss = [rss_bytes(proc.pid)]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.2):
            rss.append(rss_bytes(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    plans = make_requests(args.requests, args.seed, args.max_side, args.hostile)
    start = time.perf_counter()
    results = asyncio.run(send_all(url, plans, concurrency, args.timeout))
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    rss.append(rss_bytes(proc.pid))

    statuses: dict[int, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        plan = r["plan"]
        if r["status"] != plan["expect"]:
            problems.append(f"{plan['kind']}: status {r['status']}, expected {plan['expect']}: {r['content'][:200]!r}")
        elif r["status"] == 200:
            wrong = matches_own_upload(plan, r["content"])
            if wrong:
                problems.append(f"photo {plan['files']['image'][0]}: {wrong}")
        elif not r["headers"].get("content-type", "").startswith("application/json") or not json.loads(r["content"]).get("detail"):
            problems.append(f"{plan['kind']}: {r['status']} without a JSON detail")
    latencies = [r["seconds"] for r in results if r["status"] == 200]

    # phase 2: a burst over capacity must get 503 + Retry-After for the excess, 200 for the rest
    burst_plans = make_requests(capacity * 3, args.seed + 2, args.max_side, 0.0)
    for p in burst_plans:
        p["data"]["render_size"] = "1024"  # slow requests, so the queue fills
    burst = asyncio.run(send_all(url, burst_plans, capacity * 3, args.timeout))
    burst_status: dict[int, int] = {}
    for r in burst:
        burst_status[r["status"]] = burst_status.get(r["status"], 0) + 1
        if r["status"] == 503 and r["headers"].get("retry-after") != "1":
            problems.append("503 without Retry-After: 1")
        elif r["status"] == 200 and matches_own_upload(r["plan"], r["content"]):
            problems.append(f"burst: {matches_own_upload(r['plan'], r['content'])}")
        elif r["status"] not in (200, 503):
            problems.append(f"burst: status {r['status']}")
    if not burst_status.get(503):
        problems.append(f"a burst of {capacity * 3} requests over a capacity of {capacity} got no 503")

    health = httpx.get(url + "/healthz", timeout=10).json()
    after = asyncio.run(send_all(url, make_requests(1, args.seed + 3, 64, 0.0), 1, args.timeout))[0]
    if health.get("status") != "ok" or health.get("busy") != 0 or after["status"] != 200:
        problems.append(f"not healthy afterwards: {health}, then status {after['status']}")
    growth = rss[-1] - rss[0]
    allowed = max(args.rss_growth_mb * 2**20, 0.25 * rss[0])
    if growth > allowed:
        problems.append(f"server memory grew by {growth / 2**20:.0f} MiB over the run (allowed {allowed / 2**20:.0f})")
    if any(s >= 500 and s != 503 for s in statuses) or 503 in statuses:
        problems.append(f"server errors or 503s within capacity: {statuses}")
    return {
        "model": args.model, "backend": args.backend or "serve's default", "workers": args.workers, "queue": args.queue, "concurrency": concurrency,
        "requests": len(results), "hostile": sum(p["expect"] != 200 for p in plans), "statuses": statuses,
        "seconds": elapsed, "requests_per_s": len(results) / elapsed,
        "latency_s": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99)},
        "burst": {"requests": len(burst), "statuses": burst_status},
        "rss_mib": {"start": rss[0] / 2**20, "half_way": rss[len(rss) // 2] / 2**20, "end": rss[-1] / 2**20,
                    "max": max(rss) / 2**20},
        "healthy_after": not any("healthy" in p for p in problems),
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="default", help="'default' (shipped), 'tiny' (random width-4 baseline) or a checkpoint path")
    p.add_argument("--backend", default=None, help="chromatize serve --backend (default: serve's own, auto)")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (capped at workers + queue)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--queue", type=int, default=8)
    p.add_argument("--threads", type=int, default=1, help="torch threads per server process (OMP_NUM_THREADS)")
    p.add_argument("--max-side", type=int, default=512, help="largest side of the photos sent")
    p.add_argument("--hostile", type=float, default=0.15, help="share of hostile requests")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--rss-growth-mb", type=float, default=64.0, help="allowed RSS growth over the run")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    report = run(args)
    lat = report["latency_s"]
    print(f"{report['requests']} requests ({report['hostile']} hostile), {report['concurrency']} in flight, model {report['model']} "
          f"(backend {report['backend']}), "
          f"{args.workers} workers + queue {args.queue}")
    print(f"  {report['requests_per_s']:.1f} requests/s; latency of 200s p50 {lat['p50'] * 1000:.0f} ms, "
          f"p95 {lat['p95'] * 1000:.0f} ms, p99 {lat['p99'] * 1000:.0f} ms")
    print(f"  statuses {report['statuses']}; burst of {report['burst']['requests']}: {report['burst']['statuses']}")
    mem = report["rss_mib"]
    print(f"  server RSS {mem['start']:.0f} -> {mem['half_way']:.0f} (half-way) -> {mem['end']:.0f} MiB (max {mem['max']:.0f})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    for problem in report["problems"]:
        print(f"  PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
