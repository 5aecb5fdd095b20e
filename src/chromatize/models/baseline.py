"""The reports' baseline CNN: one conv, one max-pool, one transposed conv back to full size."""

from __future__ import annotations

import torch
from torch import nn

from chromatize.models.common import out_channels, output_head
from chromatize.registry import register_model


class BaselineCNN(nn.Module):
    """L ``[B,1,H,W]`` -> 3x3 conv (64, ReLU) -> 2x2 max-pool -> stride-2 transposed conv -> ``[B,C,H,W]``.

    Deliberately tiny (the unstable, blurry baseline of the reports). H, W must be even.
    """

    def __init__(self, width: int = 64, target: str = "lab"):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(width, out_channels(target), 2, stride=2)
        self.head = output_head(target)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.head(self.up(self.pool(torch.relu(self.conv(L)))))


@register_model(size_multiple=2, targets=("lab", "rgb"))
def baseline(width: int = 64, target: str = "lab") -> nn.Module:
    """Baseline conv / pool / deconv CNN (reports' first model)."""
    return BaselineCNN(width, target)
