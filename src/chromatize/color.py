"""Colour maths: the only place that knows CIE Lab and the network normalisation.

All functions are pure torch, batched and differentiable. Images are channel-first:
``[B,3,H,W]`` (or ``[3,H,W]``). sRGB values are in ``[0,1]``; Lab uses the D65 white
point with L in ``[0,100]`` and a, b roughly in ``[-128,127]``. The conversions are
kornia's (checked against scikit-image in the tests).

Networks see *normalised* values:

- ``L_norm = (L - L_CENTER) / L_SCALE``   -> ``[-1, 1]``
- ``ab_norm = ab / AB_SCALE``             -> about ``[-1, 1]`` for real photographs
"""

from __future__ import annotations

import functools

import torch
from kornia.color import lab_to_rgb as _kornia_lab_to_rgb
from kornia.color import rgb_to_lab as _kornia_rgb_to_lab

L_CENTER = 50.0
L_SCALE = 50.0
AB_SCALE = 110.0

#: The normalisation written into every checkpoint, so a model remembers what it was trained on.
NORMALIZATION = {"l_center": L_CENTER, "l_scale": L_SCALE, "ab_scale": AB_SCALE}


def _check_channels(x: torch.Tensor, channels: int, what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3 or x.shape[-3] != channels:
        raise ValueError(f"{what} must have shape [...,{channels},H,W], got {tuple(x.shape)}")


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``[...,3,H,W]`` in ``[0,1]`` -> CIE Lab ``[...,3,H,W]`` (L in [0,100])."""
    _check_channels(rgb, 3, "rgb")
    return _kornia_rgb_to_lab(rgb.clamp(0.0, 1.0))


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab ``[...,3,H,W]`` -> sRGB ``[...,3,H,W]`` clipped to ``[0,1]``."""
    _check_channels(lab, 3, "lab")
    return _kornia_lab_to_rgb(lab, clip=True)


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``[...,3,H,W]`` -> the gray sRGB image ``[...,3,H,W]`` with the same Lab L and no chroma."""
    lab = rgb_to_lab(rgb)
    return lab_to_rgb(torch.cat([lab[..., :1, :, :], torch.zeros_like(lab[..., 1:, :, :])], dim=-3))


def normalize_l(L: torch.Tensor) -> torch.Tensor:
    """L in ``[0,100]`` -> normalised L in ``[-1,1]``."""
    return (L - L_CENTER) / L_SCALE


def denormalize_l(L_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L in ``[-1,1]`` -> L in ``[0,100]``."""
    return L_norm * L_SCALE + L_CENTER


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """ab in Lab units -> normalised ab (about ``[-1,1]``)."""
    return ab / AB_SCALE


def denormalize_ab(ab_norm: torch.Tensor) -> torch.Tensor:
    """Normalised ab -> ab in Lab units."""
    return ab_norm * AB_SCALE


def rgb_to_l_ab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB ``[...,3,H,W]`` in ``[0,1]`` -> (normalised L ``[...,1,H,W]``, normalised ab ``[...,2,H,W]``)."""
    lab = rgb_to_lab(rgb)
    return normalize_l(lab[..., :1, :, :]), normalize_ab(lab[..., 1:, :, :])


def l_ab_to_rgb(L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """(normalised L ``[...,1,H,W]``, normalised ab ``[...,2,H,W]``) -> sRGB ``[...,3,H,W]`` in ``[0,1]``."""
    _check_channels(L_norm, 1, "L")
    _check_channels(ab_norm, 2, "ab")
    if L_norm.shape[-2:] != ab_norm.shape[-2:]:
        raise ValueError(f"L {tuple(L_norm.shape)} and ab {tuple(ab_norm.shape)} differ in size")
    lab = torch.cat([denormalize_l(L_norm), denormalize_ab(ab_norm)], dim=-3)
    return lab_to_rgb(lab)


def scale_chroma(ab_norm: torch.Tensor, saturation: float) -> torch.Tensor:
    """Scale chroma: 0 gives gray, 1 leaves it, >1 is more vivid. Result clipped to ``[-1,1]`` per channel
    (Lab ab beyond +-110 is outside the sRGB gamut almost everywhere)."""
    if saturation < 0:
        raise ValueError(f"saturation must be >= 0, got {saturation}")
    return (ab_norm * saturation).clamp(-1.0, 1.0)



#: Y (luminance) row of kornia's linear-RGB -> XYZ matrix; D65 white has Y = 1.
_LUMINANCE = (0.212671, 0.715160, 0.072169)
_D65 = (0.95047, 1.0, 1.08883)


def rgb_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``[...,3,H,W]`` in ``[0,1]`` -> normalised L ``[...,1,H,W]`` only (cheaper than :func:`rgb_to_l_ab`).

    Same formulas and constants as kornia's ``rgb_to_lab``.
    """
    from kornia.color import rgb_to_linear_rgb

    _check_channels(rgb, 3, "rgb")
    lin = rgb_to_linear_rgb(rgb.clamp(0.0, 1.0))
    weights = torch.tensor(_LUMINANCE, dtype=lin.dtype, device=lin.device)[:, None, None]
    Y = (lin * weights).sum(dim=-3, keepdim=True)
    fy = torch.where(Y > 0.008856, Y.clamp(min=0.008856).pow(1.0 / 3.0), 7.787 * Y + 4.0 / 29.0)
    return normalize_l(116.0 * fy - 16.0)


def l_ab_to_rgb_keep_l(L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """Like :func:`l_ab_to_rgb`, but colours outside the sRGB gamut keep their L.

    Per-channel clipping changes a pixel's luminance. Instead, each out-of-gamut pixel is moved in
    linear RGB along the straight line toward the gray of equal luminance Y, just far enough to fit
    in ``[0,1]``. Y (hence Lab L) is constant along that line, and the hue (dominant wavelength) is
    kept. In-gamut pixels are unchanged. Returns sRGB ``[...,3,H,W]`` in ``[0,1]``.
    """
    from kornia.color import linear_rgb_to_rgb

    return linear_rgb_to_rgb(_keep_l_linear(L_norm, ab_norm)).clamp_(0.0, 1.0)


def l_ab_to_srgb8_keep_l(L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """:func:`l_ab_to_rgb_keep_l` rounded to 8 bits: ``uint8 [...,3,H,W]``, within one level of
    ``round(255 * l_ab_to_rgb_keep_l(...))`` (the sRGB curve is read from a 65536-entry table)."""
    lin = _keep_l_linear(L_norm, ab_norm)
    return _lookup(_srgb8_table(lin.device), lin.mul_(65535.0).add_(0.5).to(torch.int32))


def l_ab_to_srgb16_keep_l(L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """:func:`l_ab_to_rgb_keep_l` rounded to 16 bits: ``uint16 [...,3,H,W]`` in ``[0,65535]`` (the sRGB curve
    computed, not read from a table: a 65536-entry table of linear values is too coarse in the shadows)."""
    rgb = l_ab_to_rgb_keep_l(L_norm, ab_norm)
    return rgb.mul_(65535.0).add_(0.5).to(torch.int32).to(torch.uint16)


def srgb_gray_to_l(values: torch.Tensor) -> torch.Tensor:
    """Gray sRGB levels, ``uint8`` (0-255) or ``uint16`` (0-65535) of any shape -> normalised L (float32,
    same shape), as :func:`rgb_to_l` gives for the gray pixel of that level (read from a table)."""
    if values.dtype not in (torch.uint8, torch.uint16):
        raise TypeError(f"values must be uint8 or uint16, got {values.dtype}")
    return _lookup(_gray_l_table(values.dtype, values.device), values.to(torch.int32))


def _lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for an int32 index of any shape (``index_select`` reads int32: half the traffic of int64)."""
    return table.index_select(0, index.reshape(-1)).view(index.shape)


def l_to_gray_srgb(L_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L ``[...,1,H,W]`` -> the sRGB value ``[...,1,H,W]`` in ``[0,1]`` of the gray with that L
    (the inverse of :func:`rgb_to_l` on gray pixels)."""
    _check_channels(L_norm, 1, "L")
    fy = L_norm * (L_SCALE / 116.0) + ((L_CENTER + 16.0) / 116.0)
    Y = torch.where(fy > 0.2068966, fy * fy * fy, (fy - 4.0 / 29.0) * (1.0 / 7.787)).clamp_(0.0, 1.0)
    return torch.where(Y > 0.0031308, Y.clamp(min=0.0031308).pow(1.0 / 2.4).mul_(1.055).sub_(0.055), Y * 12.92)


@functools.lru_cache(maxsize=8)
def _srgb8_table(device: torch.device) -> torch.Tensor:
    from kornia.color import linear_rgb_to_rgb

    v = torch.linspace(0.0, 1.0, 65536, dtype=torch.float64).expand(3, 1, -1)
    return (linear_rgb_to_rgb(v)[0, 0] * 255.0 + 0.5).to(torch.uint8).to(device)


@functools.lru_cache(maxsize=8)
def _gray_l_table(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    levels = 255 if dtype == torch.uint8 else 65535
    v = torch.arange(levels + 1, dtype=torch.float32).div_(levels).expand(3, 1, -1)
    return rgb_to_l(v)[0, 0].to(device)


#: kornia's XYZ -> linear RGB matrix times the D65 white: normalised XYZ (white = 1) -> linear RGB.
_XYZ_TO_LINEAR = (
    (3.2404813432005266 * 0.95047, -1.5371515162713185, -0.4985363261688878 * 1.08883),
    (-0.9692549499965682 * 0.95047, 1.8759900014898907, 0.0415559265582928 * 1.08883),
    (0.0556466391351772 * 0.95047, -0.2040413383665112, 1.0573110696453443 * 1.08883),
)


def _keep_l_linear(L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L ``[...,1,H,W]`` and ab ``[...,2,H,W]`` -> gamut-mapped linear RGB ``[...,3,H,W]`` in [0,1].

    Lab -> XYZ exactly as kornia's ``lab_to_rgb``, without its final clipping; written with few passes over
    memory (in-place steps), since it runs on every pixel of a full-resolution photo.
    """
    _check_channels(L_norm, 1, "L")
    _check_channels(ab_norm, 2, "ab")
    fy = L_norm * (L_SCALE / 116.0) + ((L_CENTER + 16.0) / 116.0)
    f = torch.cat(
        [torch.add(fy, ab_norm[..., :1, :, :], alpha=AB_SCALE / 500.0), fy,
         torch.sub(fy, ab_norm[..., 1:, :, :], alpha=AB_SCALE / 200.0).clamp_(min=0.0)],
        dim=-3,
    )
    # f^3 above 6/29, its tangent (f - 4/29) / 7.787 below: the two meet there, so the inverse is
    # max(f, 6/29)^3 + (min(f, 6/29) - 6/29) / 7.787, with no branch.
    knee = 6.0 / 29.0
    above = f.clamp(min=knee)
    xyz = above * above
    xyz.mul_(above).add_(f.clamp_(max=knee).sub_(knee), alpha=1.0 / 7.787)  # normalised XYZ: white is 1
    matrix = torch.tensor(_XYZ_TO_LINEAR, dtype=xyz.dtype, device=xyz.device)
    lin = torch.matmul(matrix, xyz.flatten(-2)).view(xyz.shape)
    Y = xyz[..., 1:2, :, :].clamp(0.0, 1.0)
    # Along Y + t (lin - Y) the largest channel leaves [0,1] first at the top, the smallest at the bottom.
    # Y lies between the smallest and largest channel (a positive mix of them), so both ratios are >= 1
    # for an in-gamut pixel and the min with 1 leaves it unchanged.
    t_hi = (1.0 - Y).div_((lin.amax(dim=-3, keepdim=True) - Y).clamp_(min=1e-12))
    t_lo = Y.div((Y - lin.amin(dim=-3, keepdim=True)).clamp_(min=1e-12))
    t = torch.minimum(t_hi, t_lo).clamp_(0.0, 1.0)
    return lin.sub_(Y).mul_(t).add_(Y).clamp_(0.0, 1.0)


#: Side of the square ab bins used by classification colorizers (Zhang et al. 2016), in Lab units.
AB_BIN_SIZE = 10.0
#: Bin centres lie on the grid ``AB_BIN_SIZE * k`` for ``k`` in ``[-AB_GRID_HALF, AB_GRID_HALF]`` (covers +-110).
AB_GRID_HALF = 11


@functools.lru_cache(maxsize=1)
def _gamut_bin_grid() -> tuple[tuple[int, int], ...]:
    samples = 512  # finer than 8-bit steps on every face: bins the gamut only grazes are found too
    v = torch.linspace(0.0, 1.0, samples)
    u, w = (t.reshape(-1) for t in torch.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            channels = [u, w]
            channels.insert(axis, torch.full_like(u, value))
            faces.append(torch.stack(channels))
    ab = rgb_to_lab(torch.cat(faces, dim=1)[:, :, None])[1:, :, 0]
    k = torch.round(ab / AB_BIN_SIZE).long() + AB_GRID_HALF
    side = 2 * AB_GRID_HALF + 1
    present = torch.bincount(k[0] * side + k[1], minlength=side * side).nonzero()[:, 0]
    return tuple((int(i) // side - AB_GRID_HALF, int(i) % side - AB_GRID_HALF) for i in present)


def ab_gamut_bins() -> torch.Tensor:
    """Centres ``float32 [Q,2]`` (a, b in Lab units, multiples of :data:`AB_BIN_SIZE`) of the ab bins that
    sRGB colours reach (Q = 262), sorted by a then b.

    A colour belongs to the bin whose centre is nearest on the grid (``round(ab / AB_BIN_SIZE)``), so every
    sRGB colour is within ``AB_BIN_SIZE / sqrt(2)`` (7.07) of a centre. Found by converting a dense sampling
    of the six faces of the sRGB cube: the gamut's ab projection is the projection of its surface.
    Zhang et al.'s 313 bins came from the convex hull of the colours seen in ImageNet, a slightly larger set.
    """
    return torch.tensor(_gamut_bin_grid(), dtype=torch.float32) * AB_BIN_SIZE
