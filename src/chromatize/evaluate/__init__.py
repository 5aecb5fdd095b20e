"""Evaluate and compare colorization models on a folder of colour photos.

``evaluate_folder(["default", "runs/unet/best.pt"], "photos/", out="eval/")`` turns each photo gray,
colorizes it with every model and with two references (``gray`` and ``mean-chroma``), measures each
prediction against the original (:mod:`chromatize.metrics`) and writes ``results.json``,
``results.csv`` and ``report.html`` into ``out``.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from chromatize.evaluate.gallery import render_gallery
from chromatize.evaluate.predictors import model_predictors
from chromatize.evaluate.report import write_report
from chromatize.evaluate.runner import DEFAULT_SIZE, evaluate_predictors

__all__ = ["evaluate_folder", "evaluate_predictors", "write_report", "DEFAULT_SIZE"]


def evaluate_folder(
    models: Sequence[str | os.PathLike],
    data: str | os.PathLike,
    *,
    out: str | os.PathLike = "evaluation",
    size: int | None = DEFAULT_SIZE,
    render_size: int | None = None,
    best_worst: int = 3,
    limit: int | None = None,
    device: str = "cpu",
    progress: bool = True,
    degrade: int | None = None,
    degrade_strength: float = 1.0,
) -> dict[str, Any]:
    """Evaluate shipped weight names / checkpoint paths ``models`` on the photos in ``data``.

    ``size``: short side the photos are resized to (centre-cropped square), ``None`` for full resolution.
    ``render_size``: long side the networks see (default: each weights file's own, as ``colorize`` runs it). ``best_worst``: images per model in the galleries. ``limit``: first readable images only.
    ``degrade``: a seed: the gray inputs are degraded like scans of old prints (up to ``degrade_strength``
    in ``[0,1]``, :mod:`chromatize.data.degrade`) and scored against the clean originals.
    Returns the results dict written to ``results.json`` plus ``"outputs"`` (the written paths).
    """
    if best_worst < 0 or (limit is not None and limit < 1):
        raise ValueError("best_worst must be >= 0 and limit >= 1")
    if not 0.0 <= degrade_strength <= 1.0:
        raise ValueError(f"degrade_strength must be in [0, 1], got {degrade_strength}")
    degraded = None if degrade is None else {"seed": int(degrade), "strength": float(degrade_strength)}
    predictors = model_predictors(models, render_size=render_size, device=device)
    results = evaluate_predictors(predictors, data, size=size, best_worst=best_worst, limit=limit, progress=progress,
                                  degrade=degraded)
    paths = write_report(results, render_gallery(results, predictors, data), out)
    return dict(results, outputs={k: str(p) for k, p in paths.items()})
