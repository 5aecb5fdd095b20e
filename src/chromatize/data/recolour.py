"""Recolour augmentation for hint training: "this region, this colour".

A hint drawn from the photo's own colour never disagrees with its surroundings, so a network trained only on
such hints never learns where a hint must stop. Here the training target is segmented into colour-coherent
regions (Felzenszwalb's graph segmentation, scikit-image), one or more regions of a useful size are given
another colour (their ab shifted so the region's mean becomes a new colour, its texture kept), and the hints
placed inside them carry that new colour. The network is then trained against the recoloured photo: the
region must take the hint's colour and everything else keep its own.

Tensors: normalised ab ``[B,2,H,W]`` (``chromatize.color``), the hints input ``[B,3,H,W]`` (normalised ab at
hinted pixels and a 0/1 mask).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from chromatize.color import AB_SCALE

#: Felzenszwalb's settings at training size (128-256 px crops).
SEGMENTATION = {"scale": 200.0, "sigma": 0.8, "min_size": 30}


def colour_regions(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``float [H,W,3]`` in [0,1] -> region labels ``int [H,W]`` (Felzenszwalb)."""
    from skimage.segmentation import felzenszwalb

    return felzenszwalb(rgb, **SEGMENTATION)


def interior_depth(mask: np.ndarray) -> np.ndarray:
    """``mask`` bool ``[H,W]`` -> each pixel's distance to the nearest pixel outside the region, the photo's
    border counting as outside (float ``[H,W]``; its maximum is the region's most interior point)."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


def new_colour(mean_ab: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour (ab units) for a region whose mean ab is ``mean_ab``: half the time its opposite hue (the click
    protocol's contrasting colour), else a random hue; chroma 25-80, at least 45 for the opposite hue."""
    chroma = float(np.hypot(*mean_ab))
    if rng.random() < 0.5 and chroma >= 2.0:
        return -mean_ab / chroma * max(chroma, rng.uniform(45.0, 80.0))
    angle = rng.uniform(0.0, 2.0 * math.pi)
    return rng.uniform(25.0, 80.0) * np.array([math.cos(angle), math.sin(angle)])


def recolour_batch(
    rgb: torch.Tensor, ab: torch.Tensor, probability: float, max_regions: int, share: tuple[float, float],
    hints_per_region: tuple[int, int], rng: np.random.Generator,
) -> tuple[torch.Tensor, list[list[tuple[int, int]]]]:
    """Recolour regions of some photos of a batch.

    ``rgb [B,3,H,W]`` sRGB in [0,1] and its normalised ``ab [B,2,H,W]`` -> (the recoloured normalised ab
    ``[B,2,H,W]``, per photo the (row, col) points where hints go: inside each recoloured region). Each photo
    is recoloured with ``probability``: 1 to ``max_regions`` regions covering ``share`` (min, max) of the
    photo each, with ``hints_per_region`` (min, max) hint points at random pixels of the region (its most
    interior pixel first, where people click).
    """
    B, _, H, W = ab.shape
    out = ab.clone()
    points: list[list[tuple[int, int]]] = [[] for _ in range(B)]
    pick = [b for b in range(B) if rng.random() < probability]
    if not pick:
        return out, points
    images = rgb[pick].detach().float().permute(0, 2, 3, 1).cpu().numpy()
    for b, image in zip(pick, images):
        labels = colour_regions(image)
        ids, counts = np.unique(labels, return_counts=True)
        ok = ids[(counts >= share[0] * H * W) & (counts <= share[1] * H * W)]
        if not len(ok):
            continue
        chosen = rng.choice(ok, size=min(len(ok), int(rng.integers(1, max_regions + 1))), replace=False)
        for k in chosen:
            mask = labels == k
            mask_t = torch.from_numpy(mask).to(ab.device)
            mean = out[b, :, mask_t].mean(dim=1) * AB_SCALE
            target = torch.as_tensor(new_colour(mean.cpu().numpy(), rng), dtype=ab.dtype, device=ab.device)
            out[b, :, mask_t] = (out[b, :, mask_t] + ((target - mean) / AB_SCALE)[:, None]).clamp(-1.0, 1.0)
            depth = interior_depth(mask)
            ys, xs = np.nonzero(depth >= min(2.0, depth.max()))
            n = int(rng.integers(hints_per_region[0], hints_per_region[1] + 1))
            y0, x0 = np.unravel_index(int(np.argmax(depth)), depth.shape)
            spots = [(int(y0), int(x0))] + [(int(ys[j]), int(xs[j])) for j in rng.integers(0, len(ys), max(0, n - 1))]
            points[b].extend(spots[:n])
    return out, points


def recoloured_hints(
    rgb: torch.Tensor, ab: torch.Tensor, cfg, rng: np.random.Generator, generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch's (target ab, hints): ``rgb [B,3,H,W]`` in [0,1] and its normalised ``ab`` -> (ab
    ``[B,2,H,W]`` with some regions recoloured, hints ``[B,3,H,W]``). ``cfg``: the task's
    :class:`chromatize.data.hints.HintSimConfig`. Recoloured photos get their region hints (squares of
    ``cfg.sizes``) drawn over the usual simulated hints, which they lose with probability ``cfg.recolour_alone``."""
    from chromatize.data.hints import simulate_hints, stamp_hints

    target, points = recolour_batch(rgb, ab, cfg.recolour, cfg.recolour_regions, cfg.recolour_share,
                                    cfg.recolour_hints, rng)
    hints = simulate_hints(target, cfg, generator)
    n = max((len(p) for p in points), default=0)
    if n == 0:
        return target, hints
    B = ab.shape[0]
    centers = torch.full((B, n, 2), -1, dtype=torch.long)
    for b, spots in enumerate(points):
        if spots:
            centers[b, : len(spots)] = torch.tensor(spots)
            if rng.random() < cfg.recolour_alone:
                hints[b] = 0.0
    sizes = torch.tensor(cfg.sizes)[torch.from_numpy(rng.integers(0, len(cfg.sizes), (B, n)))]
    region = stamp_hints(target, centers.to(ab.device), sizes.to(ab.device))
    return target, torch.where(region[:, 2:3] > 0, region, hints)
