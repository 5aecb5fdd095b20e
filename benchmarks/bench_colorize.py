"""Time and peak memory of colorizing 1, 12 and 24 MP gray scans end to end, against references in the same run.

Each case runs in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own:

- ``reference``: load the model and run one forward pass at the render size (what any front end pays);
- ``N MP``: the same, plus read an N-megapixel gray JPEG, colorize it at full resolution, write a colour JPEG
  (quality 95); and the same file read and written alone (``io only``), so the cost of colorizing shows.

Printed ratios: time (wall and CPU) over the reference forward, and memory above the reference process per image
pixel (bytes/pixel; the decoded gray scan is 1 B/px, its uint8 colour result 3 B/px).

    PYTHONPATH=src nice -n 10 python benchmarks/bench_colorize.py [--model default|PATH] [--backend auto|torch|onnx]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {"1 MP": (1224, 816), "12 MP": (4240, 2832), "24 MP": (6000, 4000)}
IO_ONLY = " io only"


def _colorizer(model: str, render_size: int, threads: int, backend: str):
    import torch

    from chromatize.inference.pipeline import Colorizer

    torch.set_num_threads(threads)
    return Colorizer.from_pretrained(model, render_size=render_size, backend=backend)


def _reference_forward(colorizer) -> tuple[float, float]:
    """Wall and CPU seconds of one forward pass at the render size (best of 3)."""
    import torch

    h, w = colorizer.render_shape(2, 3, colorizer.render_size)
    x = torch.zeros(1, 1, h, w)
    colorizer.predict_ab(x)  # warm-up
    best = (float("inf"), float("inf"))
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        colorizer.predict_ab(x)
        best = min(best, (time.perf_counter() - t, time.process_time() - c))
    return best


def run_case(name: str, model: str, render_size: int, threads: int, workdir: Path, backend: str) -> dict:
    """Runs inside the subprocess: returns seconds and peak RSS in bytes."""
    colorizer = _colorizer(model, render_size, threads, backend)
    forward, forward_cpu = _reference_forward(colorizer)
    result = {"forward_s": forward, "forward_cpu_s": forward_cpu}
    if name != "reference":
        from chromatize.io import from_rgb_array, load_image, save_image

        io_only = name.endswith(IO_ONLY)
        src = workdir / f"{name.removesuffix(IO_ONLY).replace(' ', '')}.jpg"
        t, cpu = time.perf_counter(), time.process_time()
        loaded = load_image(src)
        t_read = time.perf_counter()
        out = np.repeat(loaded.rgb[..., :1], 3, axis=2) if io_only else colorizer.colorize_array(loaded.rgb)
        t_color = time.perf_counter()
        save_image(from_rgb_array(out, loaded.alpha), workdir / f"out-{os.getpid()}.jpg", quality=95)
        result.update(read_s=t_read - t, colorize_s=t_color - t_read, total_s=time.perf_counter() - t,
                      total_cpu_s=time.process_time() - cpu)
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return result


def make_inputs(workdir: Path) -> None:
    """Gray scans (one-channel JPEGs, as a scanner writes them): the sample photo enlarged, plus film grain."""
    from PIL import Image

    rng = np.random.default_rng(0)
    base = Image.open(Path(__file__).resolve().parent.parent / "examples" / "cameraman.jpg").convert("L")
    for name, (w, h) in SIZES.items():
        photo = np.asarray(base.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
        grain = rng.standard_normal((h, w), dtype=np.float32) * 4.0
        Image.fromarray(np.clip(photo + grain, 0, 255).astype(np.uint8), "L").save(
            workdir / f"{name.replace(' ', '')}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--render-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), help="subset of: " + ", ".join(SIZES))
    parser.add_argument("--backend", default="auto", choices=["auto", "torch", "onnx"])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.model, args.render_size, args.threads, Path(args.workdir), args.backend)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_inputs(Path(tmp))
        results = {}
        for name in ["reference", *(n + suffix for n in args.sizes for suffix in ("", IO_ONLY))]:
            cmd = [sys.executable, __file__, "--case", name, "--workdir", tmp, "--model", args.model,
                   "--render-size", str(args.render_size), "--threads", str(args.threads), "--backend", args.backend]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ref = results.pop("reference")
    print(f"model={args.model} backend={args.backend} render_size={args.render_size} threads={args.threads}")
    print(f"reference: forward at render size {ref['forward_s'] * 1000:.1f} ms wall, "
          f"{ref['forward_cpu_s'] * 1000:.1f} ms CPU; process peak RSS {ref['peak_rss'] / 2**20:.0f} MiB")
    print("wall times suffer from other load on the machine; the CPU-time ratio is the steadier figure")
    print(f"{'image':>14} {'read s':>7} {'colorize s':>10} {'total s':>8} {'wall/fwd':>9} {'CPU/fwd CPU':>11} "
          f"{'peak MiB':>9} {'extra B/px':>10}")
    for name, r in results.items():
        w, h = SIZES[name.removesuffix(IO_ONLY)]
        extra = (r["peak_rss"] - ref["peak_rss"]) / (w * h)
        print(f"{name:>14} {r['read_s']:7.2f} {r['colorize_s']:10.2f} {r['total_s']:8.2f} "
              f"{r['total_s'] / ref['forward_s']:9.1f} {r['total_cpu_s'] / ref['forward_cpu_s']:11.1f} "
              f"{r['peak_rss'] / 2**20:9.0f} {extra:10.1f}")


if __name__ == "__main__":
    main()
