"""How a U-Net that takes hints reads them (``inputs=("L", "hints", "hint_prior")``).

The network gets the sparse hints (``[B,3,H,W]``: normalised ab at hinted pixels, 0 elsewhere, and a 0/1
mask) and the dense prior built from them outside the network (:mod:`chromatize.hint_prior`: ``[B,3,H,W]``,
the nearest hint's ab times its reach, and the reach). :func:`guide_at` brings both to a decoder map's size
with fixed pooling, so the network stays a plain graph (ONNX). Without hints every channel is 0, so a
network whose guide channels start with zero weights is exactly its hint-free self.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Channels a decoder block reads per scale: the prior's 3 and the hints' cells' 3.
GUIDE_CHANNELS = 6


def cell_hints(hints: torch.Tensor, scale: int) -> torch.Tensor:
    """Sparse hints ``[B,3,H,W]`` -> per ``scale`` x ``scale`` cell ``[B,3,H/scale,W/scale]``: mean
    normalised ab of its hinted pixels (0 if none) and its hinted fraction in ``[0,1]``."""
    if scale == 1:
        return hints
    mask = F.avg_pool2d(hints[:, 2:3], scale, ceil_mode=True)
    ab = F.avg_pool2d(hints[:, :2] * hints[:, 2:3], scale, ceil_mode=True)
    return torch.cat([ab / mask.clamp_min(1e-6) * (mask > 0), mask], dim=1)


def guide_at(prior: torch.Tensor, hints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The prior ``[B,3,H,W]`` and hints ``[B,3,H,W]`` at a decoder map of ``size`` (H and W divided by a
    power of 2) -> ``[B,6,h,w]`` float32: the prior averaged over each cell, then the hints' cells
    (:func:`cell_hints`)."""
    factor = max(1, round(int(hints.shape[-1]) / int(size[1])))  # fixed by the architecture: a constant when traced
    dense = F.avg_pool2d(prior.float(), factor, ceil_mode=True) if factor > 1 else prior.float()
    return torch.cat([dense, cell_hints(hints.float(), factor)], dim=1)[..., : size[0], : size[1]]


def decoder_guides(L: torch.Tensor, hints: torch.Tensor | None, prior: torch.Tensor | None, sizes) -> list[torch.Tensor]:
    """What each decoder block of a hint network reads: ``[B,6,h,w]`` (in L's dtype) at each of ``sizes``, for
    ``L [B,1,H,W]``, ``hints [B,3,H,W]`` (None: no hints) and ``prior [B,3,H,W]`` (None: built here with
    :func:`chromatize.hint_prior.hint_prior`, for calls from Python; the pipeline and the trainer pass it)."""
    if hints is None:
        hints = L.new_zeros(L.shape[0], 3, *L.shape[-2:])
    if prior is None:
        from chromatize.hint_prior import hint_prior

        prior = hint_prior(L, hints)
    return [guide_at(prior, hints, size).to(L.dtype) for size in sizes]
