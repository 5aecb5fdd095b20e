"""How long the page waits for a re-render after a hint changes, on a 12 MP photo (issue 22: within a second).

Each hint change on the page is one ``POST /api/colorize`` with the photo and its hints; the hint prior and the
network run at the render size, only compositing is at full size. Timed through the real FastAPI app (Starlette's
TestClient, no network) with the shipped ``hints`` model, after one warm-up request:

- ``io floor``: decode the photo and encode the result as the server does (``encode_image``), the cost of any
  request;
- ``no hints``, ``1 hint``, ``10 hints``, ``a stroke``: the whole request.

    PYTHONPATH=src nice -n 10 python benchmarks/bench_hints_page.py [--megapixels 12] [--format jpeg] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time

import numpy as np


def photo_jpeg(width: int, height: int) -> bytes:
    """A gray photo-like JPEG of ``width`` x ``height`` (smooth shapes and grain), quality 92."""
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    gray = 120 + 60 * np.sin(x / 300.0) * np.cos(y / 200.0) + rng.normal(0, 6, (height, width))
    gray[height // 3 : height // 2, width // 4 : width // 2] = 40
    buf = io.BytesIO()
    Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    import torch
    from fastapi.testclient import TestClient
    from PIL import Image

    from chromatize.server import ServerConfig, create_app
    from chromatize.server.uploads import encode_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--format", default="jpeg", choices=("jpeg", "png"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default="hints")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    width = int(round((args.megapixels * 1e6 * 3 / 2) ** 0.5))
    height = int(round(width * 2 / 3))
    data = photo_jpeg(width, height)

    def io_floor():  # decode the upload, encode an output of its size as the server does
        image = Image.open(io.BytesIO(data))
        image.load()
        encode_image(image.convert("RGB"), args.format)

    cases = {
        "no hints": [],
        "1 hint": [{"x": width // 3, "y": height // 2, "color": "navy"}],
        "10 hints": [{"x": int(width * (i + 0.5) / 10), "y": height // 2, "color": "#a03020"} for i in range(10)],
        "a stroke": [{"points": [[width // 10, height // 10], [width // 2, height // 3], [width // 2, height // 2]],
                      "color": "green"}],
    }
    config = ServerConfig(workers=1, max_upload_bytes=64 << 20, max_pixels=int(max(40e6, args.megapixels * 1.5e6)))
    results = {"io floor": best_of(args.repeat, io_floor)}
    with TestClient(create_app({args.model: args.model}, config)) as client:
        def post(hints):
            fields = {"format": args.format, "model": args.model}
            if hints:
                fields["hints"] = json.dumps(hints)
            r = client.post("/api/colorize", files={"image": ("p.jpg", data, "image/jpeg")}, data=fields)
            assert r.status_code == 200, r.text
        post([])  # warm-up: loads the model (and its ONNX export)
        for name, hints in cases.items():
            results[name] = best_of(args.repeat, lambda: post(hints))
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP), output {args.format}, best of {args.repeat}, 2 threads")
    for name, seconds in results.items():
        print(f"{name:10} {seconds:6.2f} s  ({seconds / results['io floor']:4.1f}x the io floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
