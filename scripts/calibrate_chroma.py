#!/usr/bin/env python3
"""Choose the chroma gain to ship with a model, on its training photos, and print the trade-off table.

    python scripts/calibrate_chroma.py runs/default/best.pt --data data/corpus/train --target 1.0
    chromatize export runs/default/best.pt src/chromatize/weights/default.safetensors --half --chroma-gain GAIN

The gain is the smallest that brings mean colourfulness to TARGET x the originals'. Judge it afterwards
on the validation photos with ``chromatize evaluate`` (never choose it there).
"""
from __future__ import annotations

import argparse

from chromatize.evaluate.calibrate import DEFAULT_GAINS, calibrate_chroma_gain


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="checkpoint (.pt / .safetensors) or shipped weight name")
    p.add_argument("--data", default="data/corpus/train", help="photos the model was trained on")
    p.add_argument("--target", type=float, default=1.0,
                   help="wanted colourfulness / originals' (default 1: as colourful as the photos)")
    p.add_argument("--size", type=int, default=256, help="photos' short side, centre square (default 256)")
    p.add_argument("--render-size", type=int, default=None, help="long side the network sees (default: the weights' own)")
    p.add_argument("--limit", type=int, default=None, help="a random sample of this many photos")
    p.add_argument("--max-gain", type=float, default=max(DEFAULT_GAINS))
    a = p.parse_args()
    gains = [g for g in DEFAULT_GAINS if g <= a.max_gain]
    r = calibrate_chroma_gain(a.model, a.data, target=a.target, gains=gains, size=a.size, limit=a.limit,
                              render_size=a.render_size)
    print(f"{r['photos']} photos, originals' colourfulness {r['cf_orig']:.1f}")
    print("| gain | CF | CF / orig | MSE (RGB) | PSNR dB |\n|---:|---:|---:|---:|---:|")
    for row in r["table"]:
        print(f"| {row['gain']:.2f} | {row['cf_pred']:.1f} | {row['cf_ratio']:.2f} | {row['mse']:.5f} | {row['psnr']:.2f} |")
    print(f"chosen gain: {r['gain']:.2f} (target {r['target']:.2f} x originals' colourfulness)")


if __name__ == "__main__":
    main()
