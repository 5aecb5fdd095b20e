"""What gets evaluated: the user's models and two reference colorizers that set the scale.

A predictor maps the gray input (sRGB ``float32 [H,W,3]`` in ``[0,1]``) to a colour prediction of the
same shape, rounded to 8 bits like any image a user would save.

- ``gray``: the input itself (zero chroma): what doing nothing scores.
- ``mean-chroma``: the input's L with one constant ab everywhere, the mean a and mean b over all pixels
  of the evaluated originals. It is an oracle statistic of this data set (it has seen the answers'
  average), so it is a slightly optimistic "average colour" baseline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from chromatize.evaluate.data import to_8bit

GRAY = "gray"
MEAN_CHROMA = "mean-chroma"
REFERENCE_NAMES = (GRAY, MEAN_CHROMA)


@dataclass
class Predictor:
    """One evaluated colorizer: ``name`` (unique label), ``kind`` ("reference" or "model"),
    ``describe`` (JSON-able facts for the report), ``predict(gray) -> rgb`` and ``built_from``, the
    ``nn.Module`` classes its network is made of (so a classifier it was built on does not judge it,
    see :mod:`chromatize.evaluate.agreement`)."""

    name: str
    kind: str
    predict: Any
    describe: dict[str, Any] = field(default_factory=dict)
    built_from: frozenset = frozenset()

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        return to_8bit(self.predict(gray))


def gray_reference() -> Predictor:
    return Predictor(GRAY, "reference", lambda gray: gray, {"definition": "the gray input itself (zero chroma)"})


def mean_chroma_reference(mean_ab: Sequence[float]) -> Predictor:
    """Constant ab ``mean_ab`` (Lab units) on the input's L."""
    import torch

    from chromatize.color import lab_to_rgb
    from chromatize.metrics import to_lab

    ab = np.asarray(mean_ab, dtype=np.float32)

    def predict(gray: np.ndarray) -> np.ndarray:
        lab = to_lab(gray)
        lab[..., 1:] = ab
        return lab_to_rgb(torch.from_numpy(lab).permute(2, 0, 1)).permute(1, 2, 0).numpy()

    definition = "the input's L with constant ab = mean a, mean b over all pixels of the evaluated originals"
    return Predictor(MEAN_CHROMA, "reference", predict, {"definition": definition, "ab": [float(v) for v in mean_ab]})


def reference_predictors(mean_ab: Sequence[float]) -> list[Predictor]:
    """``gray`` and ``mean-chroma`` (with the data set's mean ab, Lab units)."""
    return [gray_reference(), mean_chroma_reference(mean_ab)]


def run_directory_files(checkpoint: Path) -> dict[str, str]:
    """Training logs beside a checkpoint (its run directory): ``loss_curve.png`` and ``metrics.jsonl``."""
    return {
        name: str(checkpoint.parent / name)
        for name in ("loss_curve.png", "metrics.jsonl")
        if (checkpoint.parent / name).is_file()
    }


def gray_scan(gray: np.ndarray) -> np.ndarray:
    """The gray input (sRGB ``float32 [H,W,3]`` in [0,1], channels equal) -> the 8-bit gray photo a user would
    hand ``chromatize colorize``: ``uint8 [H,W,3]``, one channel seen three times, as
    :func:`chromatize.io.load_image` reads a gray file. Models are evaluated on it, so ``evaluate`` and
    ``colorize`` give the same pixels for the same photo."""
    plane = np.round(np.clip(gray.mean(axis=2), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.broadcast_to(plane[..., None], gray.shape)


def colorizer_predict(colorizer, settings=None):
    """``predict(gray)`` for a :class:`chromatize.Colorizer`: its colours for :func:`gray_scan` of the gray input,
    sRGB ``float32 [H,W,3]``; ``settings`` the run's (:meth:`chromatize.Colorizer.prepare`; default its own)."""
    settings = settings or colorizer.prepare()

    def predict(gray: np.ndarray) -> np.ndarray:
        return colorizer.colorize_array(gray_scan(gray), settings).astype(np.float32) / 255.0

    return predict


def model_predictor(name_or_path: str | os.PathLike, *, render_size: int | None = None, device: str = "cpu") -> Predictor:
    """A shipped weight name or a checkpoint path, run through :class:`chromatize.Colorizer` as ``colorize``
    runs it: at the weights' own render size unless ``render_size`` is given."""
    from chromatize.checkpoint import resolve_weights, weights_header
    from chromatize.evaluate.agreement import built_from
    from chromatize.inference.pipeline import Colorizer

    label = str(name_or_path)
    if label in REFERENCE_NAMES:
        raise ValueError(f"{label!r} is a reference colorizer, always evaluated; name a model or checkpoint")
    path = resolve_weights(name_or_path)
    colorizer = Colorizer.from_pretrained(path, device=device)
    settings = colorizer.prepare(render_size=render_size)  # checked before any photo
    header = weights_header(path) if path.suffix != ".onnx" else colorizer.model.header
    describe = {
        "weights": str(path),
        "arch": colorizer.info.to_dict(),
        "checkpoint_metrics": header.get("metrics", {}),
        "render_size": settings.render_size,
        "chroma_gain": colorizer.chroma_gain,
        "training_logs": run_directory_files(path),
    }

    return Predictor(label, "model", colorizer_predict(colorizer, settings), describe, built_from(colorizer.info.to_dict()))


def model_predictors(
    models: Sequence[str | os.PathLike], *, render_size: int | None = None, device: str = "cpu"
) -> list[Predictor]:
    """Load every model (failing early on a bad name or file); labels must be unique."""
    labels = [str(m) for m in models]
    repeated = sorted({m for m in labels if labels.count(m) > 1})
    if repeated:
        raise ValueError(f"model named more than once: {', '.join(repeated)}")
    return [model_predictor(m, render_size=render_size, device=device) for m in models]
