"""Thumbnails of the images the report shows: every model's best and worst by MSE.

Predictions are recomputed for just these files (inference is deterministic), so memory stays bounded
however large the folder is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from chromatize.evaluate.data import load_original, model_input
from chromatize.evaluate.figures import jpeg_uri
from chromatize.evaluate.predictors import MEAN_CHROMA, Predictor, reference_predictors

INPUT, ORIGINAL = "input", "original"


def shown_files(results: dict[str, Any]) -> list[str]:
    """Every file that is some model's best or worst, sorted."""
    return sorted({f for m in results["models"].values() for f in (*m["best"], *m["worst"])})


def render_gallery(
    results: dict[str, Any], models: Sequence[Predictor], folder: str | os.PathLike
) -> dict[str, dict[str, str]]:
    """``{file: {"input": uri, "original": uri, <model name>: uri}}`` (JPEG data URIs) for :func:`shown_files`.

    ``models`` are the evaluated models; the references are rebuilt from ``results``.
    """
    mean_ab = results["models"][MEAN_CHROMA]["describe"]["ab"]
    predictors = [*reference_predictors(mean_ab), *models]
    size = results["settings"]["size"]
    gallery = {}
    for rel in shown_files(results):
        original = load_original(Path(folder) / rel, size)
        gray = model_input(original, rel, results["settings"].get("degrade"))
        thumbs = {INPUT: jpeg_uri(gray), ORIGINAL: jpeg_uri(original)}
        thumbs.update({p.name: jpeg_uri(p(gray)) for p in predictors})
        gallery[rel] = thumbs
    return gallery
