"""Training losses: pixel regression losses and the GAN objective of pix2pix."""

from __future__ import annotations

import torch
from torch import nn


def regression_loss(name: str, huber_delta: float = 1.0) -> nn.Module:
    """``"mse"``, ``"l1"`` or ``"huber"`` -> a loss module ``(pred, target) -> scalar`` (mean over all elements)."""
    factories = {"mse": nn.MSELoss, "l1": nn.L1Loss, "huber": lambda: nn.HuberLoss(delta=huber_delta)}
    if name not in factories:
        raise ValueError(f"unknown loss {name!r}; choose from {', '.join(factories)}")
    return factories[name]()


class GANLoss(nn.Module):
    """Adversarial loss on discriminator logits ``[B,1,h,w]`` (a PatchGAN gives one logit per patch).

    ``mode="vanilla"``: binary cross-entropy on logits (the original pix2pix); ``"lsgan"``: least squares.
    ``loss(logits, real=True)`` pushes logits towards "real", ``real=False`` towards "fake".
    """

    def __init__(self, mode: str = "vanilla"):
        super().__init__()
        criteria = {"vanilla": nn.BCEWithLogitsLoss, "lsgan": nn.MSELoss}
        if mode not in criteria:
            raise ValueError(f"unknown GAN mode {mode!r}; choose from {', '.join(criteria)}")
        self.mode = mode
        self.criterion = criteria[mode]()

    def forward(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return self.criterion(logits, target)
