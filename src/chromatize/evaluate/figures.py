"""Pictures for the report, as ``data:`` URIs so the HTML is one self-contained file.

Plots use matplotlib's object API (``Figure`` + Agg canvas): no pyplot, no global backend change.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from typing import Any

import numpy as np
from PIL import Image

THUMBNAIL_SIDE = 256


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def jpeg_uri(rgb: np.ndarray, max_side: int = THUMBNAIL_SIDE) -> str:
    """sRGB ``[H,W,3]`` (float in ``[0,1]`` or uint8) -> a JPEG thumbnail (long side <= ``max_side``) URI."""
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return data_uri(buf.getvalue(), "image/jpeg")


def _figure_png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def accuracy_curves_png(results: dict[str, Any]) -> bytes:
    """Pooled ab accuracy-within-threshold curves of every model, one plot."""
    from matplotlib.figure import Figure

    from chromatize.metrics import AB_THRESHOLDS

    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for name, model in results["models"].items():
        s = model["summary"]
        ax.plot(AB_THRESHOLDS, s["ab_accuracy_curve"], label=f"{name} (AuC {s['ab_auc_pooled']:.3f})")
    ax.set(xlabel="ab error threshold (Lab units)", ylabel="share of pixels within", xlim=(0, 150), ylim=(0, 1.01))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _figure_png(fig)


def read_loss_log(path: str | os.PathLike) -> tuple[str, dict[str, list[tuple[float, float]]]]:
    """A trainer's ``metrics.jsonl`` -> (x label, {loss key: [(x, value)]}).

    Every numeric key containing "loss" is a series; x is ``epoch`` when the records have it, else
    ``step``, else the record number. Lines that are not JSON objects are ignored.
    """
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    x_key = next((k for k in ("epoch", "step") if any(k in r for r in records)), None)
    series: dict[str, list[tuple[float, float]]] = {}
    for i, r in enumerate(records):
        x = r.get(x_key, i) if x_key else i
        for key, value in r.items():
            if "loss" in key and isinstance(value, (int, float)) and math.isfinite(value):
                series.setdefault(key, []).append((float(x), float(value)))
    return x_key or "record", series


def loss_curve_png(path: str | os.PathLike, title: str) -> bytes | None:
    """Plot the loss series of a ``metrics.jsonl``; ``None`` when it holds none."""
    from matplotlib.figure import Figure

    x_label, series = read_loss_log(path)
    if not series:
        return None
    fig = Figure(figsize=(6, 3.4))
    ax = fig.add_subplot()
    for key, points in sorted(series.items()):
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", markersize=3, label=key)
    ax.set(xlabel=x_label, ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")  # losses fall: the top right is clear; "best" is slow on long logs
    fig.tight_layout()
    return _figure_png(fig)


def training_curve_uri(logs: dict[str, str], title: str) -> str | None:
    """The run directory's ``loss_curve.png`` if present, else a plot of its ``metrics.jsonl``."""
    if "loss_curve.png" in logs:
        with open(logs["loss_curve.png"], "rb") as f:
            return data_uri(f.read(), "image/png")
    if "metrics.jsonl" in logs:
        png = loss_curve_png(logs["metrics.jsonl"], title)
        return data_uri(png, "image/png") if png else None
    return None
