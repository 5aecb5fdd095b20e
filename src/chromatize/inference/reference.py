"""Hints from a colour reference photo: the same or a similar scene, in colour.

The gray photo and the reference (reduced to its luminance) are described on a grid of ``cell`` x ``cell``
pixel cells (at the render size) by ImageNet MobileNetV2 features at strides 8 and 16 (the encoder the
models already use; it has seen 1.28 M colour photos, so what it matches is content, not colour), plus
each cell's mean luminance. Each cell of the photo is matched to its most similar reference cell (the
reference is also searched mirrored). A match is kept when it is

- confident: cosine similarity at least ``min_similarity``;
- mutual: the reference cell's own best match lies within one cell of the photo cell;
- plausible: the two cells' mean luminance differs by at most ``max_l_difference`` (L units);

and becomes a hint at the photo cell's centre with the reference cell's mean ab. The strongest
``max_hints`` kept matches are used.

When the reference shows the same scene (another print of the photo, a crop, a mirrored or rescaled copy),
its matches agree on one geometry: a similarity transform (scale, rotation, shift) from the reference to the
photo is fitted to them with RANSAC (scikit-image), refined to a fraction of a pixel by phase correlation
of the luminances, and the reference's ab is warped onto the photo densely (:func:`align_reference`).
Where the warped reference covers the photo and its luminance agrees with the photo's, its colours are laid
over the network's prediction (``weight`` in :class:`ReferenceGuide`); elsewhere the hints do the work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from chromatize.color import rgb_to_l_ab
from chromatize.hints import paint_hints
from chromatize.inference.core import render_shape
from chromatize.models.mobilenet import SKIP_TAPS, gray_imagenet_input

#: Encoder ``features`` indices whose outputs describe a cell: its skip taps at strides 8 and 16.
FEATURE_TAPS = SKIP_TAPS[2:4]


@torch.no_grad()
def cell_features(encoder: nn.Module, L: torch.Tensor, cell: int) -> torch.Tensor:
    """Normalised L ``[1,1,h,w]`` -> one unit descriptor per ``cell`` x ``cell`` cell, ``[h/cell * w/cell, C]``."""
    h, w = L.shape[-2:]
    pad_h, pad_w = (-h) % 32, (-w) % 32
    x = gray_imagenet_input(F.pad(L, (0, pad_w, 0, pad_h), mode="replicate"))
    maps = []
    for i, layer in enumerate(encoder.features):
        x = layer(x)
        if i in FEATURE_TAPS:
            maps.append(x)
        if i >= max(FEATURE_TAPS):
            break
    gh, gw = h // cell, w // cell
    parts = []
    for m in maps:
        stride = (h + pad_h) // m.shape[-2]
        m = F.interpolate(m, scale_factor=stride / cell, mode="bilinear", align_corners=False)[..., :gh, :gw]
        parts.append(F.normalize(m.flatten(2)[0].T, dim=1))
    return F.normalize(torch.cat(parts, dim=1), dim=1)


def _cells(x: torch.Tensor, cell: int) -> torch.Tensor:
    """``[1,C,h,w]`` -> per-cell means ``[cells, C]`` (whole cells only)."""
    gh, gw = x.shape[-2] // cell, x.shape[-1] // cell
    return F.avg_pool2d(x[..., : gh * cell, : gw * cell], cell).flatten(2)[0].T


@dataclass(frozen=True)
class ReferenceGuide:
    """What a reference photo gives a photo at the render size (h, w): ``hints [1,3,h,w]`` (the registry's
    input), and the reference's own colours aligned to the photo, ``ab [1,2,h,w]`` (normalised), laid over the
    prediction with ``weight [1,1,h,w]`` in [0,1] (0 where the reference does not show the same scene)."""

    hints: torch.Tensor
    ab: torch.Tensor
    weight: torch.Tensor


@torch.no_grad()
def reference_hints(encoder: nn.Module, L_small: torch.Tensor, reference: torch.Tensor, **settings) -> torch.Tensor:
    """The ``hints`` input ``[1,3,h,w]`` of :func:`reference_guide` (the matches alone, without the overlay)."""
    return reference_guide(encoder, L_small, reference, align=False, **settings).hints


@torch.no_grad()
def reference_guide(
    encoder: nn.Module, L_small: torch.Tensor, reference: torch.Tensor, *, cell: int = 8,
    min_similarity: float = 0.6, max_l_difference: float = 12.0, max_hints: int = 256, radius: int = 2,
    align: bool = True,
) -> ReferenceGuide:
    """The photo's normalised L at the render size ``[1,1,h,w]`` and a colour reference (sRGB ``float
    [1,3,H,W]`` in [0,1], any size) -> its :class:`ReferenceGuide` (see the module docstring), on L's device;
    no hints where nothing matches, weight 0 where the reference is not aligned (``align=False``: nowhere).
    ``encoder``: an ImageNet :class:`MobileNetV2`."""
    device = L_small.device
    h, w = L_small.shape[-2:]
    none = ReferenceGuide(L_small.new_zeros(1, 3, h, w), L_small.new_zeros(1, 2, h, w), L_small.new_zeros(1, 1, h, w))
    if h < cell or w < cell:
        return none
    rh, rw = render_shape(*reference.shape[-2:], max(h, w))
    ref = F.interpolate(reference.to(device, torch.float32), size=(rh, rw), mode="bicubic", antialias=True,
                        align_corners=False).clamp(0, 1)
    if rh < cell or rw < cell:
        return none
    ref_L, ref_ab = rgb_to_l_ab(ref)
    target = cell_features(encoder, L_small, cell)
    L_cells = _cells(L_small, cell)[:, 0]
    gw = w // cell
    best_sim = torch.full((target.shape[0],), -2.0, device=device)
    best_ab = target.new_zeros(target.shape[0], 2)
    aligned = none
    for flip in (False, True):
        rL, rab = (ref_L.flip(-1), ref_ab.flip(-1)) if flip else (ref_L, ref_ab)
        feats = cell_features(encoder, rL, cell)
        sim = target @ feats.T  # [cells, ref cells]
        s, j = sim.max(dim=1)
        back = sim.argmax(dim=0)[j]  # the photo cell the chosen reference cell likes best
        mutual = ((back // gw - torch.arange(len(j), device=device) // gw).abs() <= 1) & \
                 ((back % gw - torch.arange(len(j), device=device) % gw).abs() <= 1)
        dl = (L_cells - _cells(rL, cell)[:, 0][j]).abs() * 50.0  # normalised L -> L units
        good = mutual & (s >= min_similarity) & (dl <= max_l_difference)
        ok = good & (s > best_sim)
        best_sim = torch.where(ok, s, best_sim)
        best_ab = torch.where(ok[:, None], _cells(rab, cell)[j], best_ab)
        if align:
            found = align_reference(L_small, rL, rab, _match_points(good, j, gw, rL.shape[-1] // cell, cell))
            if found is not None and float(found.weight.sum()) > float(aligned.weight.sum()):
                aligned = found
    kept = torch.nonzero(best_sim > -2.0)[:, 0]
    kept = kept[best_sim[kept].argsort(descending=True)[:max_hints]].tolist()
    squares = [((k // gw) * cell + cell // 2, (k % gw) * cell + cell // 2, radius) for k in kept]
    return ReferenceGuide(paint_hints((h, w), squares, best_ab[kept], device), aligned.ab, aligned.weight)


def _match_points(good: torch.Tensor, j: torch.Tensor, gw: int, ref_gw: int, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Kept cell matches -> (reference points, photo points), ``[N,2]`` (x, y) pixel centres each."""
    k = torch.nonzero(good)[:, 0]
    dst = torch.stack([k % gw, k // gw], dim=1).float() * cell + (cell - 1) / 2
    src = torch.stack([j[k] % ref_gw, j[k] // ref_gw], dim=1).float() * cell + (cell - 1) / 2
    return src.cpu().numpy().astype(np.float64), dst.cpu().numpy().astype(np.float64)


#: Alignment: the least matches, and the least share of them, that must agree on one similarity transform.
MIN_INLIERS, MIN_INLIER_SHARE = 24, 0.35
#: Where the warped reference's luminance differs from the photo's by more (L units), its colours are not used.
ALIGNED_L_TOLERANCE = 8.0


def align_reference(L_small: torch.Tensor, ref_L: torch.Tensor, ref_ab: torch.Tensor,
                    points: tuple[np.ndarray, np.ndarray]) -> ReferenceGuide | None:
    """The reference (normalised ``ref_L [1,1,H,W]``, ``ref_ab [1,2,H,W]``) warped onto the photo
    (``L_small [1,1,h,w]``) by the similarity transform its cell matches ``points`` (reference, photo) agree
    on, or None when too few agree. The guide's hints are empty; ``weight`` is 1 where the warped reference
    lies inside its frame and its luminance agrees with the photo's (softened at the borders)."""
    from skimage.measure import ransac
    from skimage.registration import phase_cross_correlation
    from skimage.transform import SimilarityTransform

    src, dst = points
    if len(src) < MIN_INLIERS:
        return None
    model, inliers = ransac((src, dst), SimilarityTransform, min_samples=3, residual_threshold=6.0,
                            max_trials=300, rng=0)
    if model is None or inliers.sum() < max(MIN_INLIERS, MIN_INLIER_SHARE * len(src)):
        return None
    model = SimilarityTransform.from_estimate(src[inliers], dst[inliers])
    if not model:  # a failed estimation is falsy
        return None
    h, w = L_small.shape[-2:]
    warped_L, inside = _warp(ref_L, model, h, w)
    shift, _, _ = phase_cross_correlation(L_small[0, 0].cpu().numpy(), warped_L[0, 0].cpu().numpy(),
                                          upsample_factor=10, normalization=None)
    if np.hypot(*shift) <= 4.0:  # refine: the transform followed by that (sub-pixel) shift
        model = model + SimilarityTransform(translation=(shift[1], shift[0]))
    warped, inside = _warp(torch.cat([ref_L, ref_ab], dim=1), model, h, w)  # L and ab in one pass
    warped_L, warped_ab = warped[:, :1], warped[:, 1:]
    # Compared smoothed: the two prints differ in sharpness (resampling), not in what they show.
    smooth = lambda x: F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)  # noqa: E731
    agree = ((smooth(warped_L) - smooth(L_small)).abs() * 50.0 <= ALIGNED_L_TOLERANCE) & inside
    weight = -F.max_pool2d(-agree.float(), 5, stride=1, padding=2)  # eroded: no seams at the frame or misfits
    weight = F.avg_pool2d(weight, 5, stride=1, padding=2, count_include_pad=False)
    return ReferenceGuide(L_small.new_zeros(1, 3, h, w), warped_ab.to(L_small), weight.to(L_small))


def _warp(x: torch.Tensor, model, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x [1,C,H,W]`` (the reference) sampled at the photo's pixels mapped back by ``model`` (reference ->
    photo) -> (``[1,C,h,w]`` bilinear, ``[1,1,h,w]`` bool: inside the reference)."""
    ys, xs = np.mgrid[0:h, 0:w]
    back = model.inverse(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64))
    H, W = x.shape[-2:]
    grid = torch.from_numpy(np.stack([(back[:, 0] + 0.5) / W * 2 - 1, (back[:, 1] + 0.5) / H * 2 - 1], axis=1))
    grid = grid.to(x.device, torch.float32).view(1, h, w, 2)
    inside = (grid.abs() <= 1).all(dim=-1)[:, None]
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False), inside


def reinhard_transfer(ab: torch.Tensor, reference_ab: torch.Tensor) -> torch.Tensor:
    """Reinhard et al. (2001) colour statistics transfer on ab: ``ab [B,2,h,w]`` with each channel's mean
    and spread matched to those of ``reference_ab [B,2,H,W]`` (normalised ab both)."""
    mean, std = ab.mean((2, 3), keepdim=True), ab.std((2, 3), keepdim=True)
    rmean, rstd = reference_ab.mean((2, 3), keepdim=True), reference_ab.std((2, 3), keepdim=True)
    return (ab - mean) / std.clamp_min(1e-4) * rstd + rmean



def reference_tensor(rgb: np.ndarray) -> torch.Tensor:
    """A reference photo, sRGB ``[H,W,3]`` (uint8, uint16 or float32 in [0,1]) -> ``float32 [1,3,H,W]`` in [0,1]."""
    from chromatize.io import to_float32

    return torch.from_numpy(np.ascontiguousarray(to_float32(rgb))).permute(2, 0, 1)[None]
