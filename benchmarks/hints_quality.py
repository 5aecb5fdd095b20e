"""What hints and reference photos are worth, on the validation photos (the numbers in the hints model card).

Every photo is centre-cropped to 256 px (as ``chromatize evaluate`` does) and made gray; hints are taken from
the original as the 2017 paper did: the mean colour of a 7x7 patch at random points (a fixed seed per photo
and count). Rows, each with PSNR and ΔE00 against the originals:

- ``gray`` and the automatic ``default`` model (no hints);
- the hint model with 0, 1, 2, 5, 10, 20, 50 hints, through ``Colorizer.colorize_array(hints=...)``;
- ``fill``: the nearest hint's colour everywhere (the naive baseline), ``edge fill``: the same fill
  propagated along the photo so it stops at edges (:func:`chromatize.hint_prior.geodesic_fill`), and
  ``levin``: Levin, Lischinski and Weiss 2004 (:func:`chromatize.evaluate.baselines.levin_fill`).

Reference photos (``--reference``): for each photo, (a) **same**: the colour original itself at 80 % size, as
another print of the same photo, (b) **partial**: a part of itself, its top-left 65 % x 65 %, mirrored and
enlarged 1.25x, and (c) **other**: another photo of the same source group; each as ``--reference`` for the
hint model, against automatic and against Reinhard et al.'s colour-statistics transfer (the automatic
result's a, b given the reference's mean and spread). The table also gives each row's worst photo.

    PYTHONPATH=src python benchmarks/hints_quality.py --model hints [--data data/corpus/val] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

COUNTS = (0, 1, 2, 5, 10, 20, 50)
SIZE = 256
PATCH = 7


def random_hints(original: np.ndarray, n: int, seed: int):
    """``n`` hints at random points of ``original`` (float sRGB [H,W,3]): each the mean colour of a 7x7 patch."""
    from chromatize.hints import Hint

    rng = np.random.default_rng(seed)
    H, W = original.shape[:2]
    r = PATCH // 2
    hints = []
    for _ in range(n):
        y, x = int(rng.integers(r, H - r)), int(rng.integers(r, W - r))
        mean = original[y - r : y + r + 1, x - r : x + r + 1].reshape(-1, 3).mean(0)
        hints.append(Hint(x, y, tuple(int(v) for v in np.round(mean * 255)), radius=r))
    return hints


def fill_prediction(gray8: np.ndarray, hints, edge_weight: float) -> np.ndarray:
    """The hints' colours spread to every pixel: the nearest hinted pixel's (exact Euclidean distance, SciPy's
    distance transform) for ``edge_weight=0``, else the nearest along the photo (its geodesic fill)."""
    from scipy.ndimage import distance_transform_edt

    from chromatize.color import l_ab_to_rgb, rgb_to_l_ab
    from chromatize.hint_prior import geodesic_fill
    from chromatize.hints import hint_tensor

    rgb = torch.from_numpy(gray8).permute(2, 0, 1)[None].float() / 255.0
    L, _ = rgb_to_l_ab(rgb)
    seeds = hint_tensor(hints, gray8.shape[:2], gray8.shape[:2])
    if edge_weight is None:  # Levin et al. 2004
        from chromatize.evaluate.baselines import levin_fill

        filled = levin_fill(gray8[..., 0] / 255.0, seeds[0, :2].permute(1, 2, 0).numpy(), seeds[0, 2].numpy() > 0)
        ab = torch.from_numpy(filled).permute(2, 0, 1)[None].float()
    elif edge_weight > 0:
        ab, _ = geodesic_fill(L, seeds, edge_weight=edge_weight)
    else:
        _, (rows, cols) = distance_transform_edt(seeds[0, 2].numpy() == 0, return_indices=True)
        ab = seeds[:, :2, torch.from_numpy(rows), torch.from_numpy(cols)]
    return l_ab_to_rgb(L, ab)[0].permute(1, 2, 0).numpy()


def reinhard(colorizer, gray8: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The automatic result with its a, b given the reference's mean and spread (Reinhard et al. 2001)."""
    from chromatize.color import l_ab_to_rgb, rgb_to_l_ab
    from chromatize.inference.reference import reinhard_transfer

    auto = torch.from_numpy(colorizer.colorize_array(gray8)).permute(2, 0, 1)[None].float() / 255.0
    L, ab = rgb_to_l_ab(auto)
    _, ref_ab = rgb_to_l_ab(torch.from_numpy(reference).permute(2, 0, 1)[None].float())
    return l_ab_to_rgb(L, reinhard_transfer(ab, ref_ab).clamp(-1, 1))[0].permute(1, 2, 0).numpy()


def same_reference(original: np.ndarray) -> np.ndarray:
    """The colour original at 80 % of its size (another print of the same photo), float sRGB."""
    from PIL import Image

    image = Image.fromarray((original * 255 + 0.5).astype(np.uint8))
    image = image.resize((round(image.width * 0.8), round(image.height * 0.8)), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def partial_reference(original: np.ndarray) -> np.ndarray:
    """Top-left 65 % x 65 % of the photo, mirrored left-right and enlarged 1.25x (float sRGB)."""
    from PIL import Image

    H, W = original.shape[:2]
    crop = np.ascontiguousarray(original[: round(0.65 * H), : round(0.65 * W)][:, ::-1])
    image = Image.fromarray((crop * 255 + 0.5).astype(np.uint8))
    image = image.resize((round(image.width * 1.25), round(image.height * 1.25)), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


class Table:
    """Per-row lists of per-image metric dicts -> mean PSNR / ΔE00 (as ``chromatize evaluate`` averages them)."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {}

    def add(self, row: str, pred: np.ndarray, original: np.ndarray, lab, rel: str = "") -> None:
        from chromatize import metrics
        from chromatize.evaluate.data import to_8bit

        values, _ = metrics.image_metrics(to_8bit(pred), original, lab_target=lab)
        self.rows.setdefault(row, []).append(values | {"file": rel})

    def summary(self) -> dict[str, dict[str, float]]:
        return {row: {k: float(np.mean([v[k] for v in vals])) for k in ("psnr", "delta_e2000", "cf_pred", "cf_orig")}
                | {"images": len(vals), "worst_gain": self.worst_gain(vals)} for row, vals in self.rows.items()}

    def worst_gain(self, vals: list[dict]) -> float:
        """The smallest PSNR gain over the gray input among a row's photos (dB)."""
        gray = {v["file"]: v["psnr"] for v in self.rows.get("gray", [])}
        return float(min(v["psnr"] - gray[v["file"]] for v in vals)) if all(v["file"] in gray for v in vals) else float("nan")


def main(argv: list[str] | None = None) -> int:
    from chromatize import metrics
    from chromatize.evaluate.data import gray_input, list_images, load_original
    from chromatize.inference.pipeline import Colorizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="hints")
    ap.add_argument("--automatic", default="default")
    ap.add_argument("--data", default="data/corpus/val")
    ap.add_argument("--counts", default=",".join(map(str, COUNTS)))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--no-fill", action="store_true")
    ap.add_argument("--levin", default="1,10", help="hint counts that also get the Levin et al. 2004 baseline")
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--chroma-gain", type=float, default=None, help="override the hint model's chroma gain")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    counts = [int(c) for c in args.counts.split(",")]
    args.levin = {int(c) for c in args.levin.split(",") if c}
    guided = Colorizer.from_pretrained(args.model, backend=args.backend, chroma_gain=args.chroma_gain)
    automatic = Colorizer.from_pretrained(args.automatic, backend=args.backend)
    files = list_images(args.data)[: args.limit or None]
    originals = {rel: load_original(path, SIZE) for rel, path in files}
    groups: dict[str, list[str]] = {}
    for rel in originals:
        groups.setdefault(str(Path(rel).parent), []).append(rel)
    table = Table()
    for i, (rel, original) in enumerate(originals.items()):
        lab = metrics.to_lab(original)
        gray8 = (gray_input(original) * 255 + 0.5).astype(np.uint8)
        table.add("gray", gray8 / 255.0, original, lab, rel)
        table.add("automatic", automatic.colorize_array(gray8) / 255.0, original, lab, rel)
        for n in counts:
            hints = random_hints(original, n, seed=1000 * i + n)
            table.add(f"hints {n}", guided.colorize_array(gray8, hints=hints) / 255.0, original, lab, rel)
            if n and not args.no_fill:
                table.add(f"fill {n}", fill_prediction(gray8, hints, 0.0), original, lab, rel)
                table.add(f"edge fill {n}", fill_prediction(gray8, hints, 150.0), original, lab, rel)
                if n in args.levin:
                    table.add(f"levin {n}", fill_prediction(gray8, hints, None), original, lab, rel)
        if not args.no_reference:
            others = [r for r in groups[str(Path(rel).parent)] if r != rel]
            refs = {"same": same_reference(original), "partial": partial_reference(original)}
            if others:
                refs["other"] = originals[others[i % len(others)]]
            for kind, ref in refs.items():
                table.add(f"reference {kind}", guided.colorize_array(gray8, reference=ref) / 255.0, original, lab, rel)
                table.add(f"reinhard {kind}", reinhard(automatic, gray8, ref), original, lab, rel)
        print(f"{i + 1}/{len(originals)} {rel}", file=sys.stderr, flush=True)
    summary = table.summary()
    gray = summary["gray"]["psnr"]
    print(f"{'row':22} {'PSNR':>7} {'-gray':>6} {'worst':>6} {'ΔE00':>7} {'CF':>6} images   (worst: least gain over gray)")
    for row, s in summary.items():
        print(f"{row:22} {s['psnr']:7.2f} {s['psnr'] - gray:+6.2f} {s['worst_gain']:+6.2f} {s['delta_e2000']:7.2f} "
              f"{s['cf_pred']:6.1f} {s['images']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "chroma_gain": guided.chroma_gain, "data": args.data,
                                               "size": SIZE, "rows": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
