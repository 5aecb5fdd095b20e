"""Colour where the model is sure: a global chroma gain against content-adaptive ones, at equal colourfulness.

    python benchmarks/adaptive_gain.py runs/default/best.pt [--train data/corpus/train --val data/corpus/val]

The network runs once per photo (and once on the mirrored photo); each rule then only re-scales the predicted
normalised ab ``[2,h,w]`` before it is put on the photo's L (:meth:`chromatize.Colorizer.apply_chroma`):

- ``global``: ``g * ab`` (what ships: ``Readout.chroma_gain``);
- ``sure``: ``ab * g * (|ab| / m)^q``, ``m`` the photo's mean predicted chroma: pixels the model colours more
  strongly than the rest of the photo (where an L1 model is surer: its median shrinks toward gray where it
  hesitates) get more gain, hesitant ones less;
- ``flip``: the mean of the photo's and its mirror's prediction, times ``1 + (g - 1) * exp(-(d / s)^2)``, ``d`` the
  distance between the two predictions: gain where the two guesses agree;
- ``flip-global``: the mean of the two predictions times ``g``.

For every rule and parameter, ``g`` is chosen as shipping chooses it: the smallest on a 0.05 grid whose mean
colourfulness on ``--limit`` training photos (seed 0) reaches ``--target`` x the originals'. The table gives the
validation photos' PSNR, ΔE00 and colourfulness ratio at that ``g``: a rule is better when it has more PSNR at
the same colourfulness.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch


def rules():
    """(name, parameter, function(ab, ab_flip, g) -> ab) for every rule tried."""
    out = [("global", "", lambda ab, abf, g: ab * g), ("flip-global", "", lambda ab, abf, g: 0.5 * (ab + abf) * g)]
    for q in (0.25, 0.5, 1.0):
        def sure(ab, abf, g, q=q):
            c = ab.norm(dim=0, keepdim=True)
            return ab * g * (c / c.mean().clamp_min(1e-4)).pow(q)
        out.append(("sure", f"q={q}", sure))
    for s in (0.05, 0.1):
        def flip(ab, abf, g, s=s):
            d = (ab - abf).norm(dim=0, keepdim=True)
            return 0.5 * (ab + abf) * (1 + (g - 1) * torch.exp(-(d / s) ** 2))
        out.append(("flip", f"s={s}", flip))
    return out


def predictions(colorizer, folder, size, limit, seed):
    """[(original [H,W,3] float, its colourfulness, gray, ab [2,h,w], ab of the mirrored photo mirrored back)] for
    photos of ``folder``."""
    from chromatize import metrics
    from chromatize.evaluate.data import UnreadableImage, gray_input, load_original, sample_images

    out = []
    for _, path in sample_images(folder, limit, seed):
        try:
            original = load_original(path, size)
        except UnreadableImage:
            continue
        gray = gray_input(original)
        ab = colorizer.predict_chroma(gray)
        ab_flip = colorizer.predict_chroma(np.ascontiguousarray(gray[:, ::-1])).flip(-1)
        out.append((original, metrics.colorfulness(original), gray, ab, ab_flip))
    return out


def score(colorizer, photos, rule, g, full=False):
    from chromatize import metrics

    cf_p, cf_o, psnr, de = [], [], [], []
    for original, cf_orig, gray, ab, abf in photos:
        pred = colorizer.apply_chroma(gray, rule(ab, abf, g)).astype(np.float32) / 255.0
        cf_p.append(metrics.colorfulness(pred))
        cf_o.append(cf_orig)
        psnr.append(metrics.psnr(pred, original))
        if full:
            de.append(metrics.delta_e2000(metrics.to_lab(pred), metrics.to_lab(original)))
    return {"cf_ratio": float(np.mean(cf_p) / np.mean(cf_o)), "psnr": float(np.mean(psnr)),
            "delta_e2000": float(np.mean(de)) if de else math.nan}


def main() -> None:
    from chromatize.checkpoint import resolve_weights
    from chromatize.inference.pipeline import Colorizer

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--train", default="data/corpus/train")
    p.add_argument("--val", default="data/corpus/val")
    p.add_argument("--limit", type=int, default=120)
    p.add_argument("--target", type=float, default=1.0)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    colorizer = Colorizer.from_pretrained(resolve_weights(a.model), render_size=a.size, chroma_gain=1.0, backend="torch")
    start = time.perf_counter()
    train = predictions(colorizer, a.train, a.size, a.limit, 0)
    val = predictions(colorizer, a.val, a.size, None, 0)
    print(f"{len(train)} training and {len(val)} validation photos predicted in {time.perf_counter() - start:.0f} s", flush=True)
    print(f"| rule | parameter | g (train) | PSNR | ΔE00 | CF / originals' |\n|---|---|---:|---:|---:|---:|")
    base = score(colorizer, val, lambda ab, abf, g: ab, 1.0, full=True)
    print(f"| no gain | | 1.00 | {base['psnr']:.2f} | {base['delta_e2000']:.2f} | {base['cf_ratio']:.3f} |")
    for name, param, rule in rules():
        grid = [round(1.0 + 0.05 * i, 2) for i in range(41)]  # 1.00 ... 3.00; colourfulness grows with g
        lo, hi = 0, len(grid) - 1
        while lo < hi:  # the smallest g on the grid that reaches the target (the largest when none does)
            mid = (lo + hi) // 2
            if score(colorizer, train, rule, grid[mid])["cf_ratio"] >= a.target:
                hi = mid
            else:
                lo = mid + 1
        g = grid[lo]
        s = score(colorizer, val, rule, g, full=True)
        print(f"| {name} | {param} | {g:.2f} | {s['psnr']:.2f} | {s['delta_e2000']:.2f} | {s['cf_ratio']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
