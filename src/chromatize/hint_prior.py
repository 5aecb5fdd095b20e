"""The dense hint prior: sparse colour hints spread along the photo, built outside the network.

Hints arrive as the registry's ``hints`` input: ``[B,3,H,W]`` = normalised ab at hinted pixels (0
elsewhere) and a 0/1 mask. A network that sees only these sparse dots learns to use them slowly (each hint
stays a local stamp). :func:`hint_prior` turns them into the registry's ``hint_prior`` input, dense maps at
the same size ``[B,3,H,W]``:

- ``fill`` (2 channels): the ab of the nearest hint, times its reach: a hint spreads over its region and
  fades at edges and with distance (rather than along straight Voronoi lines over the whole photo), so a
  network reading it keeps its own guess where no hint reaches;
- ``reach`` (1): ``exp(-distance / (reach * side))`` in ``(0, 1]`` (0: no hint), where the distance to the
  nearest hint is measured along the photo: a geodesic distance whose step cost grows with the square of
  the luminance change, so crossing a strong edge costs far more than a walk across a flat region.

It is computed here, for the inference core (:func:`chromatize.inference.core.run_network`) and the training
task alike, and not inside the network: the geodesic iterates until the hints have spread, which is not a
fixed graph, so hint networks stay plain feed-forward graphs (ONNX export, ONNX Runtime). The geodesic runs
at ``1/scale`` of the input (cheap), by parallel relaxation over the 8 neighbours until nothing changes, and
is upsampled bilinearly. Without hints every channel is 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from chromatize.models.hints import cell_hints

_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
#: Channels of the ``hint_prior`` input.
CHANNELS = 3


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


@torch.no_grad()
def hint_prior(L: torch.Tensor, hints: torch.Tensor, *, scale: int = 4, edge_weight: float = 150.0,
               reach: float = 0.5) -> torch.Tensor:
    """Normalised ``L [B,1,H,W]`` and ``hints [B,3,H,W]`` -> the ``hint_prior`` input ``[B,3,H,W]`` float32
    (fill ab x reach, reach; see the module docstring), on L's device. All zeros without hints."""
    B, _, H, W = L.shape
    hints = hints.float()
    if not bool((hints[:, 2] > 0).any()):
        return L.new_zeros(B, CHANNELS, H, W, dtype=torch.float32)
    cells = cell_hints(hints, scale)
    L_small = F.avg_pool2d(L.float(), scale, ceil_mode=True)
    fill, dist = geodesic_fill(L_small, cells, edge_weight)
    near = torch.exp(-dist / (reach * max(L_small.shape[-2:])))
    small = torch.cat([fill * near, near], dim=1)
    return F.interpolate(small, scale_factor=scale, mode="bilinear", align_corners=False)[..., :H, :W]
