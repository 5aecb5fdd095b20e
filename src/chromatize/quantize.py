"""Chroma as classes: the quantised-ab maths of Zhang, Isola & Efros (2016), "Colorful Image Colorization".

A classification colorizer predicts, per pixel, logits ``[B,Q,H,W]`` over the Q in-gamut ab bins of
:func:`chromatize.color.ab_gamut_bins` (``centers`` ``[Q,2]``, Lab units, on the 10-unit grid). This module
turns ab into training targets (soft encoding, class prior, rebalancing weights) and logits back into ab
(annealed mean). ab images are *normalised* ab ``[B,2,H,W]`` as everywhere in chromatize.
"""

from __future__ import annotations

import torch

from chromatize.color import AB_BIN_SIZE, AB_GRID_HALF, denormalize_ab, normalize_ab

#: Zhang et al.'s settings: soft targets over the 5 nearest bins with a Gaussian of sigma 5 (Lab units);
#: the class prior smoothed with sigma 5 and mixed half-and-half with the uniform distribution;
#: readout temperature 0.38.
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0
PRIOR_SIGMA = 5.0
REBALANCE_MIX = 0.5
ANNEALED_TEMPERATURE = 0.38

_PAD = 2  # empty grid cells around the lookup table, so a 4x4 neighbourhood never leaves it


def _lookup(centers: torch.Tensor) -> torch.Tensor:
    """Grid cell -> bin index (-1: no bin), ``long [S,S]``; cell ``(i, j)`` is ab ``((i, j) - AB_GRID_HALF - _PAD) * 10``."""
    k = centers / AB_BIN_SIZE
    if centers.ndim != 2 or centers.shape[1] != 2 or not torch.equal(k, k.round()) or k.abs().max() > AB_GRID_HALF:
        raise ValueError(f"bin centres must be [Q,2] multiples of {AB_BIN_SIZE} within +-{AB_GRID_HALF * AB_BIN_SIZE}")
    k = k.long() + AB_GRID_HALF + _PAD
    side = 2 * (AB_GRID_HALF + _PAD) + 1
    table = torch.full((side, side), -1, dtype=torch.long, device=centers.device)
    table[k[:, 0], k[:, 1]] = torch.arange(len(centers), device=centers.device)
    return table


def soft_encode(
    ab_norm: torch.Tensor, centers: torch.Tensor, neighbours: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft class targets of normalised ab ``[B,2,H,W]`` (colours of the sRGB gamut), in sparse form.

    Returns ``(index, weight)``, both ``[B,neighbours,H,W]``: the ``neighbours`` nearest bins, nearest first,
    and Gaussian weights ``exp(-d^2 / 2 sigma^2)`` (d in Lab units) summing to 1 over them. Candidates are
    the 4x4 grid cells around each colour, which hold its 5 nearest bins wherever the gamut is that wide
    (any other bin is at least 2 cells = 20 units away, weight below e^-8). Missing candidates at the edge
    of the gamut get weight 0 (index 0).
    """
    table = _lookup(centers)
    grid = denormalize_ab(ab_norm.float()) / AB_BIN_SIZE + AB_GRID_HALF + _PAD  # [B,2,H,W] in cell units
    base = grid.floor().long().clamp(1, table.shape[0] - 3)
    steps = torch.arange(-1, 3, device=grid.device).view(1, 4, 1, 1)
    ia, ib = base[:, :1] + steps, base[:, 1:] + steps  # [B,4,H,W] each
    cand = table[ia[:, :, None], ib[:, None, :]].flatten(1, 2)  # [B,16,H,W]
    d2 = ((grid[:, :1, None] - ia[:, :, None]) ** 2 + (grid[:, 1:, None] - ib[:, None, :]) ** 2).flatten(1, 2)
    d2 = torch.where(cand >= 0, d2 * AB_BIN_SIZE**2, torch.full_like(d2, float("inf")))
    d2, pos = d2.topk(neighbours, dim=1, largest=False)
    index = cand.gather(1, pos).clamp(min=0)
    weight = torch.exp(-d2 / (2.0 * sigma**2))
    return index, weight / weight.sum(dim=1, keepdim=True).clamp(min=1e-30)


def block_targets(
    ab_norm: torch.Tensor, centers: torch.Tensor, scale: int = 1, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Class targets ``[B,Q,H/scale,W/scale]`` of normalised ab ``[B,2,H,W]`` for logits predicted per
    ``scale`` x ``scale`` block: the mean of the block's :func:`soft_encode` targets, each pixel's scaled by
    ``weights[q*]`` (``[Q]``, q* its nearest bin; default 1). Cross-entropy against them equals the mean
    of the pixels' own (weighted) cross-entropies with their block's prediction. H, W: multiples of ``scale``.
    """
    B, _, H, W = ab_norm.shape
    if H % scale or W % scale:
        raise ValueError(f"H, W ({H}x{W}) must be multiples of scale {scale}")
    h, w = H // scale, W // scale
    index, weight = soft_encode(ab_norm, centers)
    if weights is not None:
        weight = weight * weights[index[:, :1]]
    rows = torch.arange(H, device=index.device) // scale
    cols = torch.arange(W, device=index.device) // scale
    cell = index * (h * w) + (rows[:, None] * w + cols[None, :])  # flat position in [Q, h, w]
    out = weight.new_zeros(B, len(centers) * h * w)
    out.scatter_add_(1, cell.reshape(B, -1), weight.reshape(B, -1))
    return out.view(B, len(centers), h, w) / scale**2


def nearest_bin(ab_norm: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Index ``long [B,H,W]`` of the bin nearest to each pixel of normalised ab ``[B,2,H,W]``."""
    return soft_encode(ab_norm, centers, neighbours=1)[0][:, 0]


def bin_counts(ab_norm: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Pixels per bin ``float [Q]`` (nearest bin) of normalised ab ``[B,2,H,W]``."""
    return torch.bincount(nearest_bin(ab_norm, centers).reshape(-1), minlength=len(centers)).float()


def smooth_prior(prior: torch.Tensor, centers: torch.Tensor, sigma: float = PRIOR_SIGMA) -> torch.Tensor:
    """A class distribution ``[Q]`` blurred in ab with a Gaussian of ``sigma`` (Lab units); sums to 1."""
    kernel = torch.exp(-torch.cdist(centers.float(), centers.float()) ** 2 / (2.0 * sigma**2))  # [Q,Q]
    smoothed = kernel @ (prior.float() / prior.sum())
    return smoothed / smoothed.sum()


def rebalance_weights(
    prior: torch.Tensor, centers: torch.Tensor, mix: float = REBALANCE_MIX, sigma: float = PRIOR_SIGMA
) -> torch.Tensor:
    """Class weights ``w [Q]`` against the bias toward common (desaturated) colours.

    ``w ∝ ((1 - mix) p̃ + mix / Q)^-1`` with ``p̃`` the ``prior`` (counts or probabilities, ``[Q]``) smoothed by
    :func:`smooth_prior`, scaled so ``E_p̃[w] = sum(p̃ w) = 1``: rare colours weigh more, on average nothing changes.
    """
    if not prior.sum() > 0:
        raise ValueError("the class prior is empty (no pixels counted)")
    p = smooth_prior(prior, centers, sigma)
    w = 1.0 / ((1.0 - mix) * p + mix / len(p))
    return w / (p * w).sum()


def annealed_mean(logits: torch.Tensor, centers: torch.Tensor, temperature: float = ANNEALED_TEMPERATURE) -> torch.Tensor:
    """Class logits ``[B,Q,H,W]`` -> normalised ab ``[B,2,H,W]``: the mean of the bin centres under the
    distribution re-sharpened to temperature ``T`` (``softmax(logits / T)``, i.e. ``p^(1/T)`` renormalised).
    ``T = 1`` gives the mean (greyish), ``T -> 0`` the mode (vivid but patchy); 0.38 is Zhang et al.'s compromise.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    probs = torch.softmax(logits.float() / temperature, dim=1)
    return normalize_ab(torch.einsum("bqhw,qc->bchw", probs, centers.float()))
