"""Simulated user hints for training: small squares of the true colour at random places.

Per image, the number of hints is 0 with probability ``p_zero`` and otherwise geometric with mean
``mean`` (capped at ``max``); each hint is an odd-sided square (``sizes``, at training size) filled with the
mean true ab there, placed uniformly at random or, with probability ``salient``, at a pixel drawn in
proportion to its chroma (people hint what is strongly coloured). The result is the registry's ``hints``
input: ``[B,3,H,W]`` = normalised ab on the squares (0 elsewhere) and the 0/1 mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class HintSimConfig:
    """How many hints, how big, where (see the module docstring)."""

    p_zero: float = 0.2
    mean: float = 8.0
    max: int = 30
    sizes: tuple[int, ...] = (1, 3, 5, 7, 9)
    salient: float = 0.3
    #: Recolour augmentation (:mod:`chromatize.data.recolour`): share of photos with recoloured regions, at most
    #: this many regions each, each covering this share of the photo, with this many hints (min, max) inside.
    recolour: float = 0.0
    recolour_regions: int = 2
    recolour_share: tuple[float, float] = (0.02, 0.4)
    recolour_hints: tuple[int, int] = (1, 2)
    #: A recoloured photo gets no other hints with this probability (so a lone click must stay in its region).
    recolour_alone: float = 0.5
    #: The pixel loss's residual is multiplied by this on recoloured pixels (L1: their weight; the rest weigh 1).
    recolour_weight: float = 1.0

    def __post_init__(self) -> None:
        self.sizes = tuple(int(s) for s in self.sizes)
        self.recolour_share = tuple(float(v) for v in self.recolour_share)
        self.recolour_hints = tuple(int(v) for v in self.recolour_hints)
        if not 0.0 <= self.recolour <= 1.0 or not 0.0 <= self.recolour_alone <= 1.0 or self.recolour_regions < 1 \
                or not self.recolour_weight > 0:
            raise ValueError("hints.recolour and hints.recolour_alone must be in [0, 1], hints.recolour_regions >= 1, "
                             "hints.recolour_weight > 0")
        if len(self.recolour_share) != 2 or not 0.0 <= self.recolour_share[0] <= self.recolour_share[1] <= 1.0:
            raise ValueError("hints.recolour_share must be [min, max] shares of the photo")
        if len(self.recolour_hints) != 2 or not 1 <= self.recolour_hints[0] <= self.recolour_hints[1]:
            raise ValueError("hints.recolour_hints must be [min, max] with 1 <= min <= max")
        if not 0.0 <= self.p_zero <= 1.0 or not 0.0 <= self.salient <= 1.0:
            raise ValueError("hints.p_zero and hints.salient must be in [0, 1]")
        if self.mean < 1.0 or self.max < 1 or not self.sizes or any(s < 1 or s % 2 == 0 for s in self.sizes):
            raise ValueError("hints.mean >= 1, hints.max >= 1 and odd hints.sizes >= 1 are required")


def hint_counts(batch: int, cfg: HintSimConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Number of hints per image, ``int64 [batch]`` in ``[0, cfg.max]``."""
    u = torch.rand(batch, generator=generator)
    p = 1.0 / cfg.mean  # geometric on 1, 2, ... with this mean
    n = 1 + torch.floor(torch.log1p(-torch.rand(batch, generator=generator)) / torch.log1p(torch.tensor(-p)))
    return torch.where(u < cfg.p_zero, 0, n.clamp(max=cfg.max)).long()


def stamp_hints(ab: torch.Tensor, centers: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """Hints from the true ``ab [B,2,H,W]`` (normalised) at ``centers`` ``int64 [B,N,2]`` (row, col; -1 =
    unused) with odd ``sizes`` ``int64 [B,N]`` -> ``[B,3,H,W]``: on each square (clipped to the image) the
    mean true ab over it, and the mask. Where squares overlap, one of them wins."""
    B, _, H, W = ab.shape
    b, n = torch.nonzero(centers[..., 0] >= 0, as_tuple=True)
    rows, cols, half = centers[b, n, 0], centers[b, n, 1], sizes[b, n] // 2
    top, bottom = (rows - half).clamp_min(0), (rows + half + 1).clamp_max(H)
    left, right = (cols - half).clamp_min(0), (cols + half + 1).clamp_max(W)
    # Mean over each square from the summed-area table (one pass over the image, O(1) per hint).
    sat = F.pad(ab.float().cumsum(-1).cumsum(-2), (1, 0, 1, 0))  # [B,2,H+1,W+1]
    total = sat[b, :, bottom, right] - sat[b, :, top, right] - sat[b, :, bottom, left] + sat[b, :, top, left]
    mean = total / ((bottom - top) * (right - left)).unsqueeze(1)  # [M,2]
    span = int(sizes.max()) // 2 if sizes.numel() else 0
    offsets = torch.arange(-span, span + 1, device=ab.device)
    dy, dx = (o.reshape(1, -1) for o in torch.meshgrid(offsets, offsets, indexing="ij"))
    y, x = rows[:, None] + dy, cols[:, None] + dx  # [M, S*S]
    keep = (dy.abs() <= half[:, None]) & (dx.abs() <= half[:, None]) & (y >= 0) & (y < H) & (x >= 0) & (x < W)
    k, j = torch.nonzero(keep, as_tuple=True)
    out = ab.new_zeros(B, H, W, 3)
    out[b[k], y[k, j], x[k, j]] = torch.cat([mean, torch.ones_like(mean[:, :1])], dim=1).to(ab.dtype)[k]
    return out.permute(0, 3, 1, 2).contiguous()


def simulate_hints(ab: torch.Tensor, cfg: HintSimConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random hints for a batch of true normalised ``ab [B,2,H,W]`` -> ``[B,3,H,W]`` on ab's device."""
    B, _, H, W = ab.shape
    counts = hint_counts(B, cfg, generator)
    N = int(counts.max()) if B else 0
    if N == 0:
        return ab.new_zeros(B, 3, H, W)
    chroma = ab.detach().float().norm(dim=1).flatten(1).cpu() + 1e-3  # [B,H*W]
    salient = torch.multinomial(chroma, N, replacement=True, generator=generator)
    uniform = torch.randint(0, H * W, (B, N), generator=generator)
    pick = torch.where(torch.rand(B, N, generator=generator) < cfg.salient, salient, uniform)
    centers = torch.stack([pick // W, pick % W], dim=-1)
    centers[torch.arange(N)[None, :] >= counts[:, None]] = -1
    sizes = torch.tensor(cfg.sizes)[torch.randint(0, len(cfg.sizes), (B, N), generator=generator)]
    return stamp_hints(ab, centers.to(ab.device), sizes.to(ab.device))
