"""Run every predictor over a folder of colour photos and aggregate the metrics.

The result is one JSON-able dict (see :func:`evaluate_predictors`); it holds no timestamps and visits
files in sorted order, so the same inputs give the same numbers.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from chromatize import metrics
from chromatize.evaluate import agreement
from chromatize.evaluate.data import UnreadableImage, list_images, load_original, model_input
from chromatize.evaluate.predictors import Predictor, reference_predictors

DEFAULT_SIZE = 256
#: The ``reason`` of a photo skipped for having no colour.
GRAYSCALE = "grayscale"


def scan_images(
    folder: str | os.PathLike, size: int | None, *, limit: int | None = None, progress: bool = True
) -> tuple[list[tuple[str, Any]], list[dict[str, str]], list[float]]:
    """Read every image once: ``(readable [(rel, path)], skipped [{"file", "reason"}], mean ab [a, b])``.

    Grayscale photos are skipped (reason ``"grayscale"``, as training does): there is no colour to compare
    against, and the ``gray`` reference would score them a perfect (infinite-PSNR) prediction.
    Stops after ``limit`` readable images. The mean ab is over all pixels of the readable originals.
    """
    from chromatize.data.cache import is_gray

    readable, skipped = [], []
    ab_sum, pixels = np.zeros(2), 0
    files = list_images(folder)
    for rel, path in tqdm(files, desc="scan", unit="img", disable=not progress):
        if limit is not None and len(readable) >= limit:
            break
        try:
            rgb = load_original(path, size)
        except UnreadableImage as e:
            skipped.append({"file": rel, "reason": str(e)})
            continue
        if is_gray((rgb * 255.0 + 0.5).astype(np.uint8)):
            skipped.append({"file": rel, "reason": GRAYSCALE})
            continue
        readable.append((rel, path))
        ab_sum += metrics.to_lab(rgb)[..., 1:].reshape(-1, 2).sum(axis=0, dtype=np.float64)
        pixels += rgb.shape[0] * rgb.shape[1]
    if not readable:
        n_gray = sum(s["reason"] == GRAYSCALE for s in skipped)
        raise ValueError(f"no readable images in {folder} ({len(files)} image files: {n_gray} grayscale, "
                         f"{len(skipped) - n_gray} unreadable)")
    return readable, skipped, (ab_sum / pixels).tolist()


def _stats(values: Sequence[float]) -> dict[str, Any]:
    finite = [v for v in values if math.isfinite(v)]
    out: dict[str, Any] = {
        "mean": float(np.mean(finite)) if finite else None,
        "std": float(np.std(finite)) if finite else None,
    }
    if len(finite) < len(values):
        out["infinite"] = len(values) - len(finite)
    return out


def summarize(rows: list[dict[str, Any]], counts: np.ndarray, pixels: int) -> dict[str, Any]:
    """Mean and (population) std of each per-image metric and classifier agreement, ΔCF and the pooled ab
    accuracy curve.

    Non-finite values (PSNR of a perfect prediction) are left out of mean and std and counted in
    ``"infinite"``.
    """
    summary: dict[str, Any] = {name: _stats([r[name] for r in rows]) for name in metrics.IMAGE_METRICS}
    summary["delta_cf"] = abs(summary["cf_pred"]["mean"] - summary["cf_orig"]["mean"])
    curve = counts / pixels
    summary["ab_auc_pooled"] = metrics.curve_auc(curve)
    summary["ab_accuracy_curve"] = curve.tolist()
    judges = sorted({j for r in rows for j in r.get("agreement", {})})
    summary["agreement"] = {
        j: {k: _stats([r["agreement"][j][k] for r in rows]) for k in ("top1", "top5")} for j in judges
    }
    return summary


def best_and_worst(rows: list[dict[str, Any]], n: int) -> tuple[list[str], list[str]]:
    """Files of the ``n`` lowest-MSE and ``n`` highest-MSE rows (ties by file name), without overlap."""
    ranked = [r["file"] for r in sorted(rows, key=lambda r: (r["mse"], r["file"]))]
    best = ranked[:n]
    worst = ranked[len(best):][::-1][:n]
    return best, worst


def evaluate_predictors(
    models: Sequence[Predictor],
    folder: str | os.PathLike,
    *,
    size: int | None = DEFAULT_SIZE,
    best_worst: int = 3,
    limit: int | None = None,
    progress: bool = True,
    judges: Sequence[agreement.Judge] | None = None,
    degrade: dict | None = None,
) -> dict[str, Any]:
    """Evaluate ``gray``, ``mean-chroma`` and ``models`` on the photos in ``folder``.

    Returns ``{"settings", "images", "skipped", "classifier_agreement", "models": {name: {"kind",
    "describe", "classifiers", "summary", "best", "worst", "rows"}}}``; rows are per image ``{"file",
    <metrics.IMAGE_METRICS>, "agreement": {classifier: {"top1", "top5"}}}``, summaries hold the same
    under ``"agreement"`` as mean/std. ``judges``: the ImageNet classifiers that may score agreement
    (default :func:`agreement.default_judges`; see :mod:`chromatize.evaluate.agreement`); a model is
    scored by the first it was not built on whose weights are installed, the references by every one in use.
    ``degrade``: ``{"seed", "strength"}`` to give every predictor a degraded gray input (an old print's scan,
    :func:`chromatize.evaluate.data.model_input`), scored against the clean original as always.
    """
    if size is not None and size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    readable, skipped, mean_ab = scan_images(folder, size, limit=limit, progress=progress)
    predictors = [*reference_predictors(mean_ab), *models]
    judged = agreement.assign_judges(predictors, judges)
    rows: dict[str, list[dict[str, Any]]] = {p.name: [] for p in predictors}
    counts = {p.name: np.zeros(metrics.AB_THRESHOLDS.size, dtype=np.int64) for p in predictors}
    pixels = 0
    with tqdm(total=len(readable) * len(predictors), desc="evaluate", unit="pred", disable=not progress) as bar:
        for rel, path in readable:
            original = load_original(path, size)
            gray, lab = model_input(original, rel, degrade), metrics.to_lab(original)
            pixels += original.shape[0] * original.shape[1]
            predictions = {}
            for p in predictors:
                predictions[p.name] = p(gray)
                values, c = metrics.image_metrics(predictions[p.name], original, lab_target=lab)
                rows[p.name].append({"file": rel, **values})
                counts[p.name] += c
                bar.update()
            for name, scores in agreement.score_image(judged, original, predictions).items():
                rows[name][-1]["agreement"] = scores
    results: dict[str, Any] = {
        "settings": {"data": str(folder), "size": size, "full_res": size is None, "limit": limit, "best_worst": best_worst,
                     "degrade": degrade},
        "images": [rel for rel, _ in readable],
        "skipped": skipped,
        "classifier_agreement": {
            "definition": agreement.DEFINITION,
            "classifiers": {name: judge.describe() for name, (judge, _) in judged.judges.items()},
            "notes": judged.notes,
        },
        "models": {},
    }
    for p in predictors:
        best, worst = best_and_worst(rows[p.name], best_worst)
        results["models"][p.name] = {
            "kind": p.kind,
            "describe": p.describe,
            "classifiers": judged.of[p.name],
            "summary": summarize(rows[p.name], counts[p.name], pixels),
            "best": best,
            "worst": worst,
            "rows": rows[p.name],
        }
    return results
