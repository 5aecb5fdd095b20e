"""Speed against quality over render sizes: the measurement that picks ``DEFAULT_RENDER_SIZE``.

Colour photos are reduced to gray, colorized at each render size and compared with the originals:
PSNR of the sRGB result and mean CIE76 colour error (Lab ΔE, the chroma part only since L is kept).
Time is CPU seconds per photo, also as a ratio to the smallest size, measured in the same run.
Use photos the model never trained on.

    PYTHONPATH=src nice -n 10 python benchmarks/bench_render_size.py --model default --photos DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from chromatize import color
from chromatize.inference.pipeline import Colorizer
from chromatize.io import IMAGE_SUFFIXES, load_image, to_float32


def _photos(folder: str | None, limit: int) -> list[tuple[str, np.ndarray]]:
    if folder:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    else:  # CC0 colour photos shipped with scikit-image, when no folder is given
        import skimage

        data = Path(skimage.__file__).parent / "data"
        files = [data / n for n in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg")]
    return [(p.name, to_float32(load_image(p).rgb)) for p in files[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--photos", help="folder of colour photos (default: scikit-image's CC0 samples)")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--sizes", type=int, nargs="*", default=[128, 192, 256, 320, 384, 512])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    colorizer = Colorizer.from_pretrained(args.model)
    photos = _photos(args.photos, args.limit)
    rows = []
    for size in args.sizes:
        cpu, psnr, delta_e = 0.0, [], []
        for _, rgb in photos:
            gray = color.rgb_to_gray(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()
            start = time.process_time()
            out = colorizer.colorize_array(gray, render_size=size).astype(np.float32) / 255.0
            cpu += time.process_time() - start
            psnr.append(10 * np.log10(1.0 / max(float(np.mean((out - rgb) ** 2)), 1e-10)))
            lab_out, lab_ref = (color.rgb_to_lab(torch.from_numpy(x).permute(2, 0, 1)) for x in (out, rgb))
            delta_e.append(float((lab_out[1:] - lab_ref[1:]).norm(dim=0).mean()))
        rows.append((size, cpu / len(photos), float(np.mean(psnr)), float(np.mean(delta_e))))
    print(f"model={args.model} photos={len(photos)} ({args.photos or 'scikit-image samples'})")
    print(f"{'render':>6} {'CPU s/photo':>11} {'x smallest':>10} {'PSNR dB':>8} {'ab error':>8}")
    for size, cpu, p, de in rows:
        print(f"{size:>6} {cpu:11.3f} {cpu / rows[0][1]:10.2f} {p:8.2f} {de:8.2f}")


if __name__ == "__main__":
    main()
