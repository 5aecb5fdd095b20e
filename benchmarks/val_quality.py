"""MSE / PSNR (sRGB in [0,1]) of models vs the `gray` baseline on the validation photos, via Colorizer.

    python benchmarks/val_quality.py default [RUN/best.pt ...] [--data data/corpus/val] [--render-size 256]

Each photo (reduced to --max-side, default 512 px) is reduced to its luminance, colorized by every model
through the library's Colorizer, and compared with the original. `gray` is the same luminance with no chroma:
a model must beat it. Prints mean MSE, PSNR of the mean MSE, mean per-photo PSNR and the colourfulness ratio
(Hasler-Suesstrunk colourfulness of the outputs / of the originals).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from chromatize import Colorizer, color
from chromatize.metrics import colorfulness as colourfulness


def luminance_only(rgb: np.ndarray) -> np.ndarray:
    """sRGB float [H,W,3] -> the same photo with its Lab chroma set to zero (a black-and-white version)."""
    return color.rgb_to_gray(torch.from_numpy(rgb).permute(2, 0, 1)).permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="shipped weight names or checkpoint paths")
    parser.add_argument("--data", type=Path, default=Path("data/corpus/val"))
    parser.add_argument("--render-size", type=int, default=256)
    parser.add_argument("--max-side", type=int, default=512, help="photos are first reduced to this long side")
    args = parser.parse_args()
    files = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        raise SystemExit(f"no photos under {args.data}")
    colorizers = {name: Colorizer.from_pretrained(name, render_size=args.render_size) for name in args.models}
    scores = {name: {"mse": [], "cf": []} for name in ["gray", *colorizers]}
    cf_original = []
    for path in files:
        image = Image.open(path).convert("RGB")
        image.thumbnail((args.max_side, args.max_side), Image.Resampling.LANCZOS)
        original = np.asarray(image, dtype=np.float32) / 255.0
        gray = luminance_only(original)
        cf_original.append(colourfulness(original))
        outputs = {"gray": np.round(gray * 255.0) / 255.0}
        for name, colorizer in colorizers.items():
            outputs[name] = colorizer.colorize_array(gray).astype(np.float32) / 255.0
        for name, out in outputs.items():
            scores[name]["mse"].append(float(np.mean((out - original) ** 2)))
            scores[name]["cf"].append(colourfulness(out))
    print(f"{len(files)} photos from {args.data} (long side <= {args.max_side}), render size {args.render_size}")
    print(f"{'model':32s} {'MSE':>9s} {'PSNR(meanMSE)':>14s} {'mean PSNR':>10s} {'CF ratio':>9s}")
    for name, s in scores.items():
        mse = np.array(s["mse"])
        psnr = np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10)))
        print(f"{name:32s} {mse.mean():9.5f} {10 * math.log10(1 / mse.mean()):14.2f} {psnr:10.2f} "
              f"{np.mean(s['cf']) / np.mean(cf_original):9.2f}")


if __name__ == "__main__":
    main()
