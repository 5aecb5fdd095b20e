"""Tasks own the networks, the losses and one optimisation step; the trainer only loops and keeps state.

A task works on batches of sRGB ``float [B,3,H,W]`` in ``[0,1]`` already on its device and converts them
with :func:`chromatize.color.rgb_to_l_ab`. Networks see normalised L ``[B,1,H,W]`` and predict normalised
ab ``[B,2,H,W]`` (``target="lab"``) or sRGB ``[B,3,H,W]`` (``target="rgb"``).
"""

from __future__ import annotations

import torch
from torch import nn

from chromatize.color import l_ab_to_rgb, rgb_to_l_ab
from chromatize.losses import GANLoss, regression_loss
from chromatize.registry import create_model
from chromatize.train.config import TrainConfig


class NonFiniteLossError(FloatingPointError):
    """A loss was NaN or infinite; raised before it could touch the weights."""


def check_finite(name: str, loss: torch.Tensor) -> None:
    if not torch.isfinite(loss).all():
        raise NonFiniteLossError(f"{name} loss is {loss.item()}")


def _optimize(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class Task:
    """Base: ``modules`` maps names to networks; ``"model"`` is the colorizer saved as the checkpoint."""

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.cfg = cfg
        self.device = device
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        kwargs = dict(cfg.model.args)
        if cfg.target != "lab":
            kwargs["target"] = cfg.target
        self.modules: dict[str, nn.Module] = {"model": self._place(create_model(cfg.model.name, **kwargs))}

    @property
    def model(self) -> nn.Module:
        return self.modules["model"]

    def _place(self, net: nn.Module) -> nn.Module:
        return net.to(self.device, memory_format=self.memory_format)

    def split(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sRGB batch -> (normalised L input, regression target: normalised ab or sRGB)."""
        L, ab = rgb_to_l_ab(rgb)
        target = ab if self.cfg.target == "lab" else rgb
        return L.contiguous(memory_format=self.memory_format), target

    def to_rgb(self, L: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Network output -> sRGB ``[B,3,H,W]`` in [0,1]."""
        return l_ab_to_rgb(L, output) if self.cfg.target == "lab" else output.clamp(0.0, 1.0)

    @torch.no_grad()
    def predict(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gray input as sRGB, prediction as sRGB) for a batch, both ``[B,3,H,W]`` in [0,1]."""
        L, _ = self.split(rgb)
        gray = l_ab_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1))
        return gray, self.to_rgb(L, self.model(L))

    def train_step(self, rgb: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, float]:
        raise NotImplementedError

    @torch.no_grad()
    def eval_step(self, rgb: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError


class RegressionTask(Task):
    """Pixel regression of ab (or sRGB) with MSE, L1 or Huber."""

    def __init__(self, cfg: TrainConfig, device: torch.device):
        super().__init__(cfg, device)
        self.criterion = regression_loss(cfg.loss.name, cfg.loss.huber_delta)

    def train_step(self, rgb, optimizers):
        L, target = self.split(rgb)
        loss = self.criterion(self.model(L), target)
        check_finite("training", loss)
        _optimize(optimizers["model"], loss)
        return {"loss": loss.item()}

    @torch.no_grad()
    def eval_step(self, rgb):
        L, target = self.split(rgb)
        return {"loss": self.criterion(self.model(L), target).item()}


class Pix2PixTask(Task):
    """Conditional GAN: generator ``model`` and a discriminator that sees L concatenated with ab (or sRGB).

    Generator loss = adversarial + ``l1_lambda`` x L1; discriminator loss = mean of real and fake terms.
    The logged ``loss`` is the L1 reconstruction error, comparable between train and val.
    """

    def __init__(self, cfg: TrainConfig, device: torch.device):
        super().__init__(cfg, device)
        in_channels = 1 + (2 if cfg.target == "lab" else 3)
        disc = create_model(cfg.discriminator.name, **{**cfg.discriminator.args, "in_channels": in_channels})
        self.modules["discriminator"] = self._place(disc)
        self.gan = GANLoss(cfg.loss.gan)
        self.l1 = nn.L1Loss()

    def train_step(self, rgb, optimizers):
        L, real = self.split(rgb)
        G, D = self.modules["model"], self.modules["discriminator"]
        fake = G(L)

        d_loss = 0.5 * (self.gan(D(torch.cat([L, fake.detach()], 1)), False) + self.gan(D(torch.cat([L, real], 1)), True))
        check_finite("discriminator", d_loss)
        _optimize(optimizers["discriminator"], d_loss)

        D.requires_grad_(False)  # the generator step must not accumulate gradients into D
        try:
            g_gan = self.gan(D(torch.cat([L, fake], 1)), True)
        finally:
            D.requires_grad_(True)
        l1 = self.l1(fake, real)
        g_loss = g_gan + self.cfg.loss.l1_lambda * l1
        check_finite("generator", g_loss)
        _optimize(optimizers["model"], g_loss)
        return {"loss": l1.item(), "g_gan": g_gan.item(), "d_loss": d_loss.item()}

    @torch.no_grad()
    def eval_step(self, rgb):
        L, real = self.split(rgb)
        return {"loss": self.l1(self.model(L), real).item()}


TASKS: dict[str, type[Task]] = {"regression": RegressionTask, "pix2pix": Pix2PixTask}


def create_task(cfg: TrainConfig, device: torch.device) -> Task:
    return TASKS[cfg.task](cfg, device)
