"""A dense prior from sparse colour hints, for U-Nets that take hints (``inputs=("L", "hints")``).

Hints arrive as the registry's ``hints`` input: ``[B,3,H,W]`` = normalised ab at hinted pixels (0
elsewhere) and a 0/1 mask. A network that sees only these sparse dots learns to use them slowly (each hint
stays a local stamp). :class:`HintPrior` turns them into dense maps that every decoder scale can read:

- ``reach`` (1): ``exp(-distance / (reach * side))`` in ``(0, 1]`` (0: no hint), where the distance to the
  nearest hint is measured along the photo: a geodesic distance whose step cost grows with the square of
  the luminance change, so crossing a strong edge costs far more than a walk across a flat region;
- ``fill`` (2 channels): the ab of that nearest hint times its reach: a hint spreads over its region and
  fades at edges and with distance (rather than along straight Voronoi lines over the whole photo), so a
  network reading it keeps its own guess where no hint reaches;
- ``sparse`` (3): the hints themselves, averaged over each cell of the scale (mean ab of the hinted
  pixels, and the hinted fraction).

The geodesic fill runs at ``1/scale`` of the input (cheap), by parallel relaxation over the 8
neighbours until nothing changes. Without hints every channel is 0, so a network whose prior channels
start with zero weights is exactly its hint-free self.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


def cell_hints(hints: torch.Tensor, scale: int) -> torch.Tensor:
    """Sparse hints ``[B,3,H,W]`` -> per ``scale`` x ``scale`` cell ``[B,3,H/scale,W/scale]``: mean
    normalised ab of its hinted pixels (0 if none) and its hinted fraction in ``[0,1]``."""
    if scale == 1:
        return hints
    mask = F.avg_pool2d(hints[:, 2:3], scale, ceil_mode=True)
    ab = F.avg_pool2d(hints[:, :2] * hints[:, 2:3], scale, ceil_mode=True)
    return torch.cat([ab / mask.clamp_min(1e-6) * (mask > 0), mask], dim=1)


@torch.no_grad()
def geodesic_fill(L: torch.Tensor, seeds: torch.Tensor, edge_weight: float = 150.0,
                  max_iterations: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest-seed ab along the image: ``L [B,1,h,w]`` normalised, ``seeds [B,3,h,w]`` (ab, mask) ->
    ``(fill [B,2,h,w], distance [B,1,h,w])``.

    A step between neighbours costs its length (1 or sqrt 2) times ``1 + edge_weight * (L_p - L_q)**2``
    (L normalised to ``[-1,1]``: at weight 150 a step of 2.5 L units costs 1.4 flat steps, one of 10 L
    units 7 and one of 25 L units 39); ``edge_weight=0`` is the plain (Euclidean-like, 8-neighbour)
    nearest-hint fill. Pixels no seed reaches (an image without hints) get ab 0 and distance ``inf``.
    """
    B, _, h, w = L.shape
    inf = torch.finfo(L.dtype).max
    dist = torch.where(seeds[:, 2:3] > 0, 0.0, inf).to(L.dtype)
    value = seeds[:, :2] * (seeds[:, 2:3] > 0)
    if not bool((seeds[:, 2] > 0).any()):
        return value, torch.full_like(dist, math.inf)
    Lp = F.pad(L, (1, 1, 1, 1), mode="replicate")
    costs = torch.stack([
        math.hypot(dy, dx) * (1.0 + edge_weight * (L - Lp[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]).square())
        for dy, dx in _OFFSETS], dim=1)  # [B,8,1,h,w]
    limit = max_iterations or 2 * (h + w)
    for i in range(limit):
        dp = F.pad(dist, (1, 1, 1, 1), value=inf)
        vp = F.pad(value, (1, 1, 1, 1))
        cand = torch.stack([dp[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _OFFSETS], dim=1) + costs
        best, idx = cand.min(dim=1)  # [B,1,h,w]
        better = best < dist
        if i % 8 == 7 and not bool(better.any()):
            break
        vals = torch.stack([vp[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _OFFSETS], dim=1)
        chosen = vals.gather(1, idx[:, None].expand(-1, 1, 2, -1, -1)).squeeze(1)
        dist = torch.where(better, best, dist)
        value = torch.where(better, chosen, value)
    return value, torch.where(dist >= inf, math.inf, dist)


class HintPrior(nn.Module):
    """Sparse hints -> dense prior maps at any decoder scale (no parameters; see the module docstring).

    ``forward(L [B,1,H,W], hints [B,3,H,W])`` returns the prior at ``1/scale``: ``[B,6,H/scale,W/scale]``
    (fill ab x reach, reach, sparse ab + fraction); :meth:`at` resizes it to a decoder map's size, replacing
    the sparse part by the hints' own cells there (at full size: the hints themselves).
    """

    channels = 6

    def __init__(self, scale: int = 4, edge_weight: float = 150.0, reach: float = 0.5):
        super().__init__()
        self.scale, self.edge_weight, self.reach = scale, edge_weight, reach

    def forward(self, L: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        hints = hints.float()
        cells = cell_hints(hints, self.scale)
        L_small = F.avg_pool2d(L.float(), self.scale, ceil_mode=True)
        fill, dist = geodesic_fill(L_small, cells, self.edge_weight)
        reach = torch.exp(-dist / (self.reach * max(L_small.shape[-2:])))
        return torch.cat([fill * reach, reach, cells], dim=1)

    def guides(self, L: torch.Tensor, hints: torch.Tensor | None, sizes) -> list[torch.Tensor]:
        """The prior for ``L [B,1,H,W]`` and ``hints [B,3,H,W]`` (None: no hints) at each of ``sizes`` (the
        decoder maps' (h, w), power-of-2 scales of the input): ``[B,6,h,w]`` each, in L's dtype."""
        hints = L.new_zeros(L.shape[0], 3, *L.shape[-2:]) if hints is None else hints
        prior = self(L, hints)
        return [self.at(prior, hints, size).to(L.dtype) for size in sizes]

    def at(self, prior: torch.Tensor, hints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The prior ``[B,6,h,w]`` (from :meth:`forward`) at a map of ``size`` (a power-of-2 scale of the input)."""
        dense = prior[:, :3]
        if tuple(dense.shape[-2:]) != tuple(size):
            dense = F.interpolate(dense, size=size, mode="bilinear", align_corners=False)
        factor = max(1, round(hints.shape[-1] / size[1]))
        return torch.cat([dense, cell_hints(hints.float(), factor)[..., : size[0], : size[1]]], dim=1).to(prior.dtype)
