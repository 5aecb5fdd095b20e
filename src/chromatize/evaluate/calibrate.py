"""Pick a model's chroma gain: how much to amplify its predicted chroma so colour strength matches photos.

Regression models (L1/L2) predict the average of plausible colours, so they come out duller than the
photos they learn from. A single gain on the predicted ab, chosen on photos the model trained on (never on
the validation photos it is judged on), restores colourfulness at a measured cost in per-pixel error.

    from chromatize.evaluate.calibrate import calibrate_chroma_gain
    result = calibrate_chroma_gain("runs/default/best.pt", "data/corpus/train", target=1.0)
    result["gain"]   # then: chromatize export runs/default/best.pt out.safetensors --chroma-gain GAIN

The network runs once per photo; each gain only re-renders the colour (``Colorizer.apply_chroma``).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from chromatize import metrics
from chromatize.evaluate.data import UnreadableImage, gray_input, load_original, sample_images
from chromatize.evaluate.predictors import gray_scan

#: Gains tried by default: 1.00, 1.05, ... 2.00.
DEFAULT_GAINS = tuple(round(1.0 + 0.05 * i, 2) for i in range(21))


def calibrate_chroma_gain(
    model: str | os.PathLike,
    data: str | os.PathLike,
    *,
    target: float = 1.0,
    gains: Sequence[float] = DEFAULT_GAINS,
    size: int = 256,
    limit: int | None = None,
    seed: int = 0,
    render_size: int | None = None,
) -> dict[str, Any]:
    """Smallest gain in ``gains`` at which the mean colourfulness of the model's colorizations reaches
    ``target`` times the originals' (Hasler-Süsstrunk, on photos under ``data`` at ``size`` px, centre square).

    ``limit``: that many photos drawn at random (``seed``) instead of all. ``render_size``: long side the
    network sees (default: the weights' own, as ``colorize`` runs it). The gain stored in the weights is ignored here (the search is over the raw prediction). Returns ``{"gain", "target", "photos",
    "cf_orig", "table": [{"gain", "cf_pred", "cf_ratio", "mse", "psnr"}, ...]}`` (means over the photos, as
    ``chromatize evaluate`` reports them); ``gain`` is the largest tried when none reaches the target.
    """
    from chromatize.checkpoint import resolve_weights
    from chromatize.inference.pipeline import Colorizer

    colorizer = Colorizer.from_pretrained(resolve_weights(model), render_size=render_size, chroma_gain=1.0)
    return calibrate_colorizer(colorizer, data, target=target, gains=gains, size=size, limit=limit, seed=seed)


def calibrate_colorizer(
    colorizer,
    data: str | os.PathLike,
    *,
    target: float = 1.0,
    gains: Sequence[float] = DEFAULT_GAINS,
    size: int = 256,
    limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """:func:`calibrate_chroma_gain` for a :class:`chromatize.Colorizer` already built (a network in training,
    say): the gains are tried on top of its own ``chroma_gain`` (build it with ``chroma_gain=1.0`` for the raw
    prediction); it renders at its own ``render_size``. Same arguments and result."""
    if not 0 < target:
        raise ValueError(f"target must be > 0, got {target}")
    gains = sorted(float(g) for g in gains)
    if not gains or gains[0] < 0:
        raise ValueError("gains must be a non-empty list of values >= 0")
    files = sample_images(data, limit, seed)
    settings = colorizer.prepare()
    cf_orig: list[float] = []
    cf_pred = np.zeros(len(gains))
    sq_err = np.zeros(len(gains))
    psnr = np.zeros(len(gains))
    for _, path in files:
        try:
            original = load_original(path, size)
        except UnreadableImage:
            continue
        gray = gray_scan(gray_input(original))  # what evaluate and colorize give the model
        ab = colorizer.predict_chroma(gray, settings)
        cf_orig.append(metrics.colorfulness(original))
        for i, gain in enumerate(gains):
            pred = colorizer.apply_chroma(gray, ab, saturation=gain).astype(np.float32) / 255.0
            cf_pred[i] += metrics.colorfulness(pred)
            err = metrics.mse(pred, original)
            sq_err[i] += err
            psnr[i] += metrics.psnr_from_mse(err)
    n = len(cf_orig)
    if n == 0:
        raise ValueError(f"no readable photos under {data}")
    mean_orig = float(np.mean(cf_orig))
    table = [
        {"gain": g, "cf_pred": cf / n, "cf_ratio": cf / n / mean_orig if mean_orig else float("inf"),
         "mse": e / n, "psnr": p / n}
        for g, cf, e, p in zip(gains, cf_pred, sq_err, psnr)
    ]
    reached = [row["gain"] for row in table if row["cf_ratio"] >= target]
    return {"gain": reached[0] if reached else gains[-1], "target": target, "photos": n, "cf_orig": mean_orig,
            "table": table}
