"""Models compared at equal colourfulness: PSNR and ΔE00 on the validation photos where each model's colourfulness
is 80 % of the originals' (the bar of issue 14), and at the gain its weights ship with.

    python benchmarks/equal_colourfulness.py default runs/a/best.pt runs/b/best.pt [--at 0.8]

A chroma gain trades accuracy for colour, and every model ships a different one, so their shipped numbers sit at
different colourfulness and do not rank the networks. Here each network runs once per photo; its raw chroma is
then scaled by every gain 1.00, 1.05, ... 3.00 (:meth:`chromatize.Colorizer.apply_chroma`, as the shipped gain
is applied) and the PSNR and ΔE00 at colourfulness ``--at`` x the originals' are interpolated linearly between the
two gains around it. That gain is read off the validation photos, so it is a way to compare networks, not a
gain to ship (ship one chosen on training photos: ``scripts/calibrate_chroma.py``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from adaptive_gain import predictions, score


def at_colourfulness(rows: list[dict], target: float) -> dict | None:
    """Linear interpolation of ``rows`` (by increasing gain, each with cf_ratio, psnr, delta_e2000) at
    ``cf_ratio == target``; None when no gain reaches it."""
    for lo, hi in zip(rows, rows[1:]):
        if lo["cf_ratio"] <= target <= hi["cf_ratio"]:
            t = (target - lo["cf_ratio"]) / max(hi["cf_ratio"] - lo["cf_ratio"], 1e-12)
            return {k: lo[k] + t * (hi[k] - lo[k]) for k in ("gain", "psnr", "delta_e2000")}
    if rows and rows[0]["cf_ratio"] >= target:
        return {k: rows[0][k] for k in ("gain", "psnr", "delta_e2000")}
    return None


def bracket(rows: list[dict], target: float) -> list[dict]:
    """The rows :func:`at_colourfulness` needs for ``target``: the two around it, the first when it is already
    above, none when no row reaches it."""
    for lo, hi in zip(rows, rows[1:]):
        if lo["cf_ratio"] <= target <= hi["cf_ratio"]:
            return [lo, hi]
    return rows[:1] if rows and rows[0]["cf_ratio"] >= target else []


def main() -> None:
    from chromatize.checkpoint import readout_from_header, resolve_weights, weights_header
    from chromatize.inference.pipeline import Colorizer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--val", default="data/corpus/val")
    p.add_argument("--at", type=float, default=0.8, help="colourfulness / originals' to compare at")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"| model | shipped gain | PSNR | ΔE00 | CF / originals' | gain at CF {a.at:.0%} | PSNR | ΔE00 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for model in a.models:
        path = resolve_weights(model)
        shipped = readout_from_header(weights_header(path)).chroma_gain
        colorizer = Colorizer.from_pretrained(path, render_size=a.size, chroma_gain=1.0, backend="torch")
        photos = predictions(colorizer, a.val, a.size, None, 0)
        plain = lambda ab, abf, g: ab * g  # noqa: E731  (the shipped rule: one gain on the raw chroma)
        rows = []  # colourfulness and PSNR by gain; ΔE00 (the slow metric) only where it is read
        for g in [round(1.0 + 0.05 * i, 2) for i in range(41)]:
            rows.append({"gain": g, **score(colorizer, photos, plain, g)})
            if rows[-1]["cf_ratio"] > a.at + 0.05:
                break
        s = score(colorizer, photos, plain, shipped, full=True)
        eq = at_colourfulness([{"gain": r["gain"], **score(colorizer, photos, plain, r["gain"], full=True)}
                               for r in bracket(rows, a.at)], a.at)
        eq_text = f"{eq['gain']:.2f} | {eq['psnr']:.2f} | {eq['delta_e2000']:.2f}" if eq else "not reached | | "
        print(f"| {model} | {shipped:.2f} | {s['psnr']:.2f} | {s['delta_e2000']:.2f} | {s['cf_ratio']:.2f} | {eq_text} |",
              flush=True)


if __name__ == "__main__":
    main()
