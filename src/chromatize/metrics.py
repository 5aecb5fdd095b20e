"""Image-quality metrics for colorization, per image, on NumPy arrays.

Images are sRGB ``float [H,W,3]`` in ``[0,1]`` (prediction and original of the same size); Lab arrays
are ``float [H,W,3]`` with L in ``[0,100]`` (from :func:`to_lab`, i.e. :mod:`chromatize.color`).

- :func:`mse` / :func:`psnr` on RGB in ``[0,1]``; identical images give MSE 0 and PSNR ``inf``.
- :func:`ssim`: scikit-image's ``structural_similarity`` over the three channels.
- :func:`delta_e2000`: mean CIEDE2000 (scikit-image's ``deltaE_ciede2000``).
- :func:`colorfulness`: Hasler and Süsstrunk (2003), on 0-255 sRGB values, so their scale applies
  (0 gray, about 33 "moderately", above 109 "extremely colourful").
- :func:`ab_error` / :func:`ab_accuracy_curve` / :func:`curve_auc`: the share of pixels whose ab
  (Euclidean, Lab units) error is within each threshold 0..150 and the area under that curve,
  normalised to ``[0,1]`` (Zhang, Isola and Efros 2016, "Colorful Image Colorization").
"""

from __future__ import annotations

import math

import numpy as np

#: Thresholds (Lab units) of the accuracy curve: 0, 1, ..., 150.
AB_THRESHOLDS = np.arange(0, 151, dtype=np.float64)


def _check_pair(pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected two [H,W,3] arrays of one shape, got {pred.shape} and {target.shape}")


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``[H,W,3]`` in ``[0,1]`` -> CIE Lab ``float32 [H,W,3]`` (via :func:`chromatize.color.rgb_to_lab`)."""
    import torch

    from chromatize.color import rgb_to_lab

    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return rgb_to_lab(t).permute(1, 2, 0).numpy()


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error of two sRGB ``[H,W,3]`` images in ``[0,1]``."""
    _check_pair(pred, target)
    return float(np.mean((pred.astype(np.float64) - target.astype(np.float64)) ** 2))


def psnr_from_mse(value: float) -> float:
    """PSNR in dB for data range 1; ``inf`` when the MSE is 0."""
    return math.inf if value == 0 else 10.0 * math.log10(1.0 / value)


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two sRGB images in ``[0,1]``; ``inf`` for identical images."""
    return psnr_from_mse(mse(pred, target))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """Structural similarity (scikit-image, 7x7 window, channel-wise mean) of two sRGB images in ``[0,1]``.

    Images need at least 7 pixels on each side.
    """
    from skimage.metrics import structural_similarity

    _check_pair(pred, target)
    if min(pred.shape[:2]) < 7:
        raise ValueError(f"SSIM needs images of at least 7x7 pixels, got {pred.shape[:2]}")
    return float(
        structural_similarity(
            pred.astype(np.float64), target.astype(np.float64), data_range=1.0, channel_axis=-1
        )
    )


def delta_e2000(lab_pred: np.ndarray, lab_target: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference of two Lab ``[H,W,3]`` images."""
    from skimage.color import deltaE_ciede2000

    _check_pair(lab_pred, lab_target)
    return float(np.mean(deltaE_ciede2000(lab_pred.astype(np.float64), lab_target.astype(np.float64), channel_axis=-1)))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler and Süsstrunk (2003) colourfulness of an sRGB ``[H,W,3]`` image in ``[0,1]``.

    With R, G, B on 0-255: rg = R - G, yb = (R + G)/2 - B,
    CF = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2). A gray image gives 0.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an [H,W,3] array, got {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.float64) * 255.0 for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def ab_error(lab_pred: np.ndarray, lab_target: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean distance in the ab plane (Lab units), ``float64 [H,W]``."""
    _check_pair(lab_pred, lab_target)
    d = lab_pred[..., 1:].astype(np.float64) - lab_target[..., 1:].astype(np.float64)
    return np.hypot(d[..., 0], d[..., 1])


def ab_within_counts(errors: np.ndarray) -> np.ndarray:
    """How many of ``errors`` are ``<=`` each of :data:`AB_THRESHOLDS`, ``int64 [151]``.

    Counts add across images, so a pooled curve is ``sum(counts) / sum(pixels)``.
    """
    flat = np.sort(np.asarray(errors, dtype=np.float64).ravel())
    return np.searchsorted(flat, AB_THRESHOLDS, side="right").astype(np.int64)


def ab_accuracy_curve(lab_pred: np.ndarray, lab_target: np.ndarray) -> np.ndarray:
    """Share of pixels with ab error within each threshold 0..150, ``float64 [151]`` in ``[0,1]``."""
    errors = ab_error(lab_pred, lab_target)
    return ab_within_counts(errors) / errors.size


def curve_auc(curve: np.ndarray) -> float:
    """Area under an accuracy curve over :data:`AB_THRESHOLDS` (trapezoids), normalised to ``[0,1]``."""
    curve = np.asarray(curve, dtype=np.float64)
    if curve.shape != AB_THRESHOLDS.shape:
        raise ValueError(f"expected {AB_THRESHOLDS.size} curve values, got {curve.shape}")
    area = np.sum(0.5 * (curve[1:] + curve[:-1]) * np.diff(AB_THRESHOLDS))
    return float(area / (AB_THRESHOLDS[-1] - AB_THRESHOLDS[0]))


#: Per-image metric names, in report order.
IMAGE_METRICS = ("mse", "psnr", "ssim", "delta_e2000", "ab_auc", "cf_pred", "cf_orig")


def image_metrics(
    pred: np.ndarray, target: np.ndarray, *, lab_target: np.ndarray | None = None
) -> tuple[dict[str, float], np.ndarray]:
    """All per-image metrics of a prediction against its original (sRGB ``[H,W,3]`` in ``[0,1]``).

    ``lab_target``: ``to_lab(target)`` when the caller already has it (one original, many predictions).
    Returns ``({name: value} for IMAGE_METRICS, ab-within counts [151])``; the counts let a caller pool
    the accuracy curve over many images.
    """
    _check_pair(pred, target)
    lab_pred = to_lab(pred)
    lab_target = to_lab(target) if lab_target is None else lab_target
    counts = ab_within_counts(ab_error(lab_pred, lab_target))
    err = mse(pred, target)
    values = {
        "mse": err,
        "psnr": psnr_from_mse(err),
        "ssim": ssim(pred, target),
        "delta_e2000": delta_e2000(lab_pred, lab_target),
        "ab_auc": curve_auc(counts / (pred.shape[0] * pred.shape[1])),
        "cf_pred": colorfulness(pred),
        "cf_orig": colorfulness(target),
    }
    return values, counts
