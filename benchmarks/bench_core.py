"""Speed of the inference core against the best-known architectures, measured in one run (one table).

    PYTHONPATH=src:benchmarks python benchmarks/bench_core.py [--threads 2] [--device cpu|cuda] [--repeat 5]

1. Network forward at 256 and 512 px (square input) for the shipped default (PyTorch and ONNX Runtime) and
   two references with random weights (speed does not depend on weights; see ``reference_nets.py``):
   a DeOldify-size ResNet-34 U-Net and Zhang et al. 2016. Then the full ``Colorizer.colorize_array`` of a
   gray photo of that size rendered at that size (render, border, network, upsampling, Lab -> sRGB).
2. Achieved GFLOP/s of each network (FLOPs counted by ``torch.utils.flop_counter``) against this machine's
   fp32 matrix-multiply peak, measured here.
3. Folder throughput: 50 one-megapixel gray JPEGs, one after the other against decoding/encoding overlapped.

Ratios are against the default network (PyTorch) measured in the same run. Times are the best of
``--repeat`` runs (the least disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def best_time(fn, repeat: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def matmul_peak(device: torch.device, repeat: int) -> float:
    """Best fp32 GFLOP/s of a 2048 x 2048 matrix product."""
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    seconds = best_time(lambda: (a @ b, sync()), repeat)
    return 2 * 2048**3 / seconds / 1e9


def count_flops(net: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass of ``net`` on ``x`` (moved to the device of ``net``'s weights: cpu, cuda...)."""
    from torch.utils.flop_counter import FlopCounterMode

    weights = next(net.parameters(), None)
    if weights is not None:
        x = x.to(weights.device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(x)
    return counter.get_total_flops()


def colorizers(device: torch.device):
    from reference_nets import DeOldifySize, Zhang2016, as_colorizer

    from chromatize.inference.onnx import onnx_available
    from chromatize.inference.pipeline import Colorizer

    table = {"default (torch)": Colorizer.from_pretrained("default", backend="torch", device=device)}
    if onnx_available() and device.type == "cpu":
        table["default (onnx)"] = Colorizer.from_pretrained("default", backend="onnx")
    for name, net in (("DeOldify-size", DeOldifySize()), ("Zhang 2016", Zhang2016())):
        table[name] = Colorizer(as_colorizer(net, name), device=device)
    return table


def network_table(table, device, repeat: int, peak: float) -> None:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    for size in (256, 512):
        x = torch.rand(1, 1, size, size, device=device) * 2 - 1
        gray = np.broadcast_to(np.random.default_rng(0).integers(0, 256, (size, size, 1), dtype=np.uint8), (size, size, 3))
        for name, c in table.items():
            with torch.inference_mode():
                forward = best_time(lambda: (c.model(x), sync()), repeat)
            full = best_time(lambda: c.colorize_array(gray, render_size=size), repeat)
            flops = count_flops(c.model, x) if isinstance(c.model, torch.nn.Module) else None
            rows.append((size, name, forward, full, flops))
    print(f"\n{'px':>4} {'network':<16} {'forward ms':>10} {'x default':>9} {'colorize ms':>11} {'x default':>9} "
          f"{'GFLOP':>6} {'GFLOP/s':>8} {'% peak':>6}")
    for size, name, forward, full, flops in rows:
        ref = next(r for r in rows if r[0] == size and r[1] == "default (torch)")
        gflop = flops / 1e9 if flops else next(r[4] for r in rows if r[0] == size and r[1] == "default (torch)") / 1e9
        print(f"{size:>4} {name:<16} {forward * 1e3:10.1f} {forward / ref[2]:9.2f} {full * 1e3:11.1f} {full / ref[3]:9.2f} "
              f"{gflop:6.2f} {gflop / forward:8.1f} {100 * gflop / forward / peak:6.1f}")


def folder_table(repeat: int, threads: int) -> None:
    from PIL import Image

    from chromatize.inference.batch import colorize_files
    from chromatize.inference.pipeline import Colorizer

    # (label, overlap, workers, torch threads): one after the other; reads/writes overlapped with one
    # colorizing thread; and one photo per core, each on one thread.
    variants = [("one after the other", False, 1, threads), ("overlapped, 1 worker", True, 1, threads),
                (f"overlapped, {threads} workers x 1 thread", True, threads, 1)]
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        rng = np.random.default_rng(0)
        base = Image.open(Path(__file__).resolve().parent.parent / "examples" / "cameraman.jpg").convert("L")
        for i in range(50):
            photo = base.resize((1224, 816), Image.Resampling.BICUBIC).rotate(float(rng.uniform(-10, 10)))
            photo.save(src / f"p{i:02d}.jpg", quality=90)
        for label, overlap, workers, n in variants:
            torch.set_num_threads(n)
            colorizer = Colorizer.from_pretrained("default")  # its ONNX Runtime session takes n threads

            def run():
                colorize_files([src], Path(tmp) / "out", model=colorizer, overwrite=True, progress=False,
                               overlap=overlap, workers=workers, quality=90)
            times[label] = best_time(run, max(1, repeat // 3))
        torch.set_num_threads(threads)
    print(f"\nfolder of 50 one-megapixel gray JPEGs -> JPEG ({colorizer.model.__class__.__name__}):")
    first = times[variants[0][0]]
    for label, seconds in times.items():
        print(f"  {label:<34} {50 / seconds:6.1f} photos/s  {first / seconds:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-folder", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    peak = matmul_peak(device, args.repeat)
    print(f"device {device}, {args.threads} threads, torch {torch.__version__}; fp32 matmul peak {peak:.0f} GFLOP/s")
    network_table(colorizers(device), device, args.repeat, peak)
    if not args.skip_folder:
        folder_table(args.repeat, args.threads)


if __name__ == "__main__":
    main()
