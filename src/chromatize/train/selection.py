"""Checkpoint selection by the metric users see, not by the training loss.

The trainer's validation loss is measured on small squares with the training criterion; it has picked
checkpoints that ``chromatize evaluate`` ranks worse (see ``src/chromatize/weights/default.md``). With
``select.metric`` set, the trainer hands the current network to :meth:`Selector.evaluate` every
``select.every`` steps: it is run through :class:`chromatize.Colorizer` at ``select.render_size`` on the
``val_data`` photos, by :func:`chromatize.evaluate.evaluate_predictors` (the same code and numbers as
``chromatize evaluate``), with its chroma gain calibrated as it would ship (on training photos,
:func:`chromatize.evaluate.calibrate.calibrate_colorizer`) or fixed (``select.chroma_gain``).

Ranking (:func:`selection_key`): among evaluations whose colourfulness reaches ``select.min_colourfulness``
times the originals', the best ``select.metric``; while none does, the most colourful. The network itself is
not touched (a copy is evaluated), so training goes on exactly as it would have.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch

#: Metrics a run may be selected by (``chromatize.metrics.IMAGE_METRICS`` means) -> True when higher is better.
SELECTION_METRICS = {"psnr": True, "ssim": True, "ab_auc": True, "mse": False, "delta_e2000": False}


def selection_key(record: dict[str, Any], metric: str, min_colourfulness: float) -> tuple[int, float]:
    """Sort key of an evaluation record (larger is better): ``(1, metric)`` (sign-adjusted) when its
    ``cf_ratio`` reaches ``min_colourfulness``, else ``(0, cf_ratio)``."""
    if record["cf_ratio"] >= min_colourfulness:
        value = record[metric]
        return 1, value if SELECTION_METRICS[metric] else -value
    return 0, record["cf_ratio"]


def best_record(records: list[dict[str, Any]], metric: str, min_colourfulness: float) -> dict[str, Any] | None:
    """The best of ``records`` by :func:`selection_key` (the earliest among equals); None when empty."""
    best = None
    for r in records:
        if best is None or selection_key(r, metric, min_colourfulness) > selection_key(best, metric, min_colourfulness):
            best = r
    return best


class Selector:
    """Evaluates networks for checkpoint selection (``cfg.select`` of a :class:`chromatize.train.config.TrainConfig`).

    ``calibration_data``: photos the chroma gain is chosen on (the training folder: never the photos the
    choice is judged on); ``val_data``: the photos it is judged on.
    """

    def __init__(self, cfg, val_data: str, calibration_data: str, device: torch.device):
        if cfg.metric not in SELECTION_METRICS:
            raise ValueError(f"select.metric must be one of {', '.join(SELECTION_METRICS)}; got {cfg.metric!r}")
        if not val_data:
            raise ValueError("select.metric needs val_data: a folder of validation photos to evaluate on")
        self.cfg, self.val_data, self.calibration_data, self.device = cfg, val_data, calibration_data, device

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> dict[str, Any]:
        """Score a copy of the plain colorizer ``model`` -> ``{metric means..., "cf_ratio", "chroma_gain",
        "photos", "seconds"}`` (the means ``chromatize evaluate`` reports)."""
        from chromatize.evaluate.calibrate import calibrate_colorizer
        from chromatize.evaluate.predictors import Predictor, colorizer_predict
        from chromatize.evaluate.runner import evaluate_predictors
        from chromatize.inference.pipeline import Colorizer

        c = self.cfg
        start = time.perf_counter()
        net = copy.deepcopy(model).float()
        gain = c.chroma_gain
        if gain <= 0:
            raw = Colorizer(net, render_size=c.render_size, chroma_gain=1.0, device=self.device)
            gain = calibrate_colorizer(raw, self.calibration_data, target=c.calibrate_target, size=c.size,
                                       limit=c.calibrate_photos or None, seed=0)["gain"]
        predict = colorizer_predict(Colorizer(net, render_size=c.render_size, chroma_gain=gain, device=self.device))
        degrade = {"seed": 0, "strength": c.degrade} if c.degrade > 0 else None
        results = evaluate_predictors([Predictor("model", "model", predict)], self.val_data, size=c.size,
                                      best_worst=0, limit=c.limit or None, progress=False, degrade=degrade)
        s = results["models"]["model"]["summary"]
        record = {name: s[name]["mean"] for name in SELECTION_METRICS}
        record.update(cf_ratio=s["cf_pred"]["mean"] / s["cf_orig"]["mean"] if s["cf_orig"]["mean"] else float("inf"),
                      chroma_gain=gain, photos=len(results["images"]), seconds=time.perf_counter() - start)
        return record

    def best(self, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        return best_record(records, self.cfg.metric, self.cfg.min_colourfulness)
