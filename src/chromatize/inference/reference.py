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
"""

from __future__ import annotations

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


@torch.no_grad()
def reference_hints(
    encoder: nn.Module, L_small: torch.Tensor, reference: torch.Tensor, *, cell: int = 8,
    min_similarity: float = 0.6, max_l_difference: float = 12.0, max_hints: int = 256, radius: int = 2,
) -> torch.Tensor:
    """The photo's normalised L at the render size ``[1,1,h,w]`` and a colour reference (sRGB ``float
    [1,3,H,W]`` in [0,1], any size) -> the ``hints`` input ``[1,3,h,w]`` (see the module docstring), on
    L's device; no hints where nothing matches. ``encoder``: an ImageNet :class:`MobileNetV2`."""
    device = L_small.device
    h, w = L_small.shape[-2:]
    out = L_small.new_zeros(1, 3, h, w)
    if h < cell or w < cell:
        return out
    rh, rw = render_shape(*reference.shape[-2:], max(h, w))
    ref = F.interpolate(reference.to(device, torch.float32), size=(rh, rw), mode="bicubic", antialias=True,
                        align_corners=False).clamp(0, 1)
    if rh < cell or rw < cell:
        return out
    ref_L, ref_ab = rgb_to_l_ab(ref)
    target = cell_features(encoder, L_small, cell)
    L_cells = _cells(L_small, cell)[:, 0]
    gw = w // cell
    best_sim = torch.full((target.shape[0],), -2.0, device=device)
    best_ab = target.new_zeros(target.shape[0], 2)
    for flip in (False, True):
        rL, rab = (ref_L.flip(-1), ref_ab.flip(-1)) if flip else (ref_L, ref_ab)
        feats = cell_features(encoder, rL, cell)
        sim = target @ feats.T  # [cells, ref cells]
        s, j = sim.max(dim=1)
        back = sim.argmax(dim=0)[j]  # the photo cell the chosen reference cell likes best
        mutual = ((back // gw - torch.arange(len(j), device=device) // gw).abs() <= 1) & \
                 ((back % gw - torch.arange(len(j), device=device) % gw).abs() <= 1)
        dl = (L_cells - _cells(rL, cell)[:, 0][j]).abs() * 50.0  # normalised L -> L units
        ok = mutual & (s >= min_similarity) & (dl <= max_l_difference) & (s > best_sim)
        best_sim = torch.where(ok, s, best_sim)
        best_ab = torch.where(ok[:, None], _cells(rab, cell)[j], best_ab)
    kept = torch.nonzero(best_sim > -2.0)[:, 0]
    kept = kept[best_sim[kept].argsort(descending=True)[:max_hints]].tolist()
    squares = [((k // gw) * cell + cell // 2, (k % gw) * cell + cell // 2, radius) for k in kept]
    return paint_hints((h, w), squares, best_ab[kept], device)


def reinhard_transfer(ab: torch.Tensor, reference_ab: torch.Tensor) -> torch.Tensor:
    """Reinhard et al. (2001) colour statistics transfer on ab: ``ab [B,2,h,w]`` with each channel's mean
    and spread matched to those of ``reference_ab [B,2,H,W]`` (normalised ab both)."""
    mean, std = ab.mean((2, 3), keepdim=True), ab.std((2, 3), keepdim=True)
    rmean, rstd = reference_ab.mean((2, 3), keepdim=True), reference_ab.std((2, 3), keepdim=True)
    return (ab - mean) / std.clamp_min(1e-4) * rstd + rmean

