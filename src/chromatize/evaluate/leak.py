"""Does a hint stay on its object? The click protocol of the hints model card (issue 22).

The colour original is segmented into colour-coherent regions (Felzenszwalb's graph segmentation,
scikit-image); every region covering 3-35 % of the photo gets one click at its most interior point (the
maximum of its distance transform) with a contrasting colour: the region's own mean ab turned by 180°, at a
chroma of at least 45. The hinted result is compared with the same model's result without hints:

- *leak*: mean ``|Δab|`` outside the region, beyond a margin of 3 % of the diagonal, over mean ``|Δab|``
  inside it (0: nothing outside changed);
- *cover*: the share of the region whose ab lies within 12 ab units of the hint's ab.

All images here are sRGB ``float32 [H,W,3]`` in ``[0,1]``; ab in CIE Lab units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Regions clicked: this share of the photo, at least and at most.
REGION_SHARE = (0.03, 0.35)
#: Smallest chroma of the contrasting hint colour (ab units).
MIN_CHROMA = 45.0
#: Pixels this close to the region (share of the diagonal) count neither inside nor outside.
MARGIN = 0.03
#: A region pixel within this ab distance of the hint is covered.
COVER_TOLERANCE = 12.0
#: Felzenszwalb's settings for 256 px photos (scale: larger regions; sigma: pre-smoothing; min_size in pixels).
SEGMENTATION = {"scale": 300.0, "sigma": 0.8, "min_size": 60}


@dataclass(frozen=True)
class Click:
    """One click of the protocol: ``mask`` bool ``[H,W]`` (the region), the point (x right, y down), the hint's
    sRGB colour (0-255) and its ab (CIE units, after rounding to 8-bit sRGB)."""

    mask: np.ndarray
    x: int
    y: int
    rgb: tuple[int, int, int]
    ab: np.ndarray


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``[H,W,3]`` in [0,1] -> CIE Lab ``[H,W,3]`` (scikit-image, D65)."""
    from skimage.color import rgb2lab

    return rgb2lab(np.clip(rgb, 0.0, 1.0))


def contrasting_color(ab_mean: np.ndarray) -> tuple[tuple[int, int, int], np.ndarray]:
    """The region's mean ``ab`` turned 180°, chroma at least :data:`MIN_CHROMA` -> (sRGB 0-255 at L 60, its ab).

    A near-gray region (chroma under 2) has no direction to turn; it gets blue (the direction of -b)."""
    from skimage.color import lab2rgb

    chroma = float(np.hypot(*ab_mean))
    direction = -ab_mean / chroma if chroma >= 2.0 else np.array([0.0, -1.0])
    target = direction * max(chroma, MIN_CHROMA)
    rgb = np.clip(lab2rgb(np.array([[[60.0, *target]]])), 0, 1)
    rgb8 = tuple(int(v) for v in np.round(rgb[0, 0] * 255))
    return rgb8, lab(np.array([[rgb8]], dtype=np.float64) / 255.0)[0, 0, 1:]


def clicks(original: np.ndarray) -> list[Click]:
    """The protocol's clicks on a colour ``original``: one per region of 3-35 % of the photo, largest first."""
    from skimage.segmentation import felzenszwalb

    from chromatize.data.recolour import interior_depth

    labels = felzenszwalb(original, **SEGMENTATION)
    ab = lab(original)[..., 1:]
    area = labels.size
    out = []
    ids, counts = np.unique(labels, return_counts=True)
    for k in ids[np.argsort(-counts)]:
        mask = labels == k
        share = mask.sum() / area
        if not REGION_SHARE[0] <= share <= REGION_SHARE[1]:
            continue
        depth = interior_depth(mask)
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
        rgb, hint_ab = contrasting_color(ab[mask].mean(0))
        out.append(Click(mask, int(x), int(y), rgb, hint_ab))
    return out


def leak_and_cover(click: Click, before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """``before`` / ``after``: the model's results (sRGB ``[H,W,3]``) without and with the click's hint ->
    ``{"leak", "cover", "inside", "outside"}`` (inside/outside: mean ``|Δab|`` there)."""
    from scipy.ndimage import distance_transform_edt

    H, W = click.mask.shape
    ab0, ab1 = lab(before)[..., 1:], lab(after)[..., 1:]
    delta = np.linalg.norm(ab1 - ab0, axis=-1)
    far = distance_transform_edt(~click.mask) > MARGIN * np.hypot(H, W)
    inside = float(delta[click.mask].mean())
    outside = float(delta[far].mean()) if far.any() else 0.0
    cover = float((np.linalg.norm(ab1[click.mask] - click.ab, axis=-1) <= COVER_TOLERANCE).mean())
    return {"leak": outside / max(inside, 1e-6), "cover": cover, "inside": inside, "outside": outside}


def ceiling(click: Click, gray: np.ndarray) -> float:
    """The best cover any colorizer that keeps the photo's luminance can reach for ``click``: the share of the
    region whose pixels can show the hint's ab at their own L in sRGB (the gamut; a dark or bright region
    cannot hold a strong chroma), measured like :func:`leak_and_cover` on the region filled with the hint's ab.
    ``gray``: the gray photo, sRGB ``[H,W,3]``."""
    import torch

    from chromatize.color import AB_SCALE, l_ab_to_srgb8_keep_l, rgb_to_l_ab

    L, _ = rgb_to_l_ab(torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float32)).permute(2, 0, 1)[None])
    ab = torch.zeros(1, 2, *click.mask.shape)
    ab[0, :, torch.from_numpy(click.mask)] = torch.tensor(click.ab / AB_SCALE, dtype=torch.float32)[:, None]
    filled = l_ab_to_srgb8_keep_l(L, ab)[0].permute(1, 2, 0).numpy() / 255.0
    return float((np.linalg.norm(lab(filled)[click.mask][:, 1:] - click.ab, axis=-1) <= COVER_TOLERANCE).mean())


def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per-click rows -> the means (``leak`` the mean of the per-click ratios; ``leak_of_means`` mean outside
    over mean inside), and the number of clicks."""
    if not rows:
        return {"clicks": 0}
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("leak", "cover", "inside", "outside") + (
        ("ceiling",) if all("ceiling" in r for r in rows) else ())}
    return mean | {"leak_of_means": mean["outside"] / max(mean["inside"], 1e-6), "clicks": len(rows)}
