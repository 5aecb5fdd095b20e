"""Tasks own the networks, the losses and one optimisation step; the trainer only loops and keeps state.

``train_step(rgb, stepper)`` runs the networks through :meth:`Task.net` (what the trainer may have wrapped
in ``DistributedDataParallel``), hands each loss to ``stepper.step(optimizer_name, loss)`` (the trainer's
one place for backward, accumulation, clipping and mixed precision; :class:`chromatize.train.step.Stepper`)
and returns its losses as detached tensors, which the trainer averages and checks for NaN/inf at its log
intervals, so no step waits on the device.

A task works on batches of sRGB ``float [B,3,H,W]`` in ``[0,1]`` already on its device and converts them
with :func:`chromatize.color.rgb_to_l_ab`. Networks see normalised L ``[B,1,H,W]`` and predict normalised
ab ``[B,2,H,W]`` (``target="lab"``) or sRGB ``[B,3,H,W]`` (``target="rgb"``). The trainer calls
:meth:`Task.run_step`; inside it, :meth:`Task.split` degrades the training L like an old print's scan
(``augment.degrade``; :mod:`chromatize.data.degrade`) while the target stays the clean photo's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from chromatize.color import l_ab_to_rgb, rgb_to_l_ab
from chromatize.data.degrade import degrade_l
from chromatize.data.hints import simulate_hints
from chromatize.data.recolour import recoloured_hints
from chromatize.hint_prior import hint_prior
from chromatize.losses import GANLoss, regression_loss
from chromatize.registry import create_model, model_info
from chromatize.train.config import TrainConfig


class NonFiniteLossError(FloatingPointError):
    """A loss was NaN or infinite; raised before it could touch the weights."""


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
        self._nets: dict[str, nn.Module] = {}  # training views as the trainer wrapped them (see wrap)
        self._in_step, self._step_generator = False, None  # set only during run_step

    @property
    def model(self) -> nn.Module:
        """The plain colorizer (what checkpoints save; never a wrapper)."""
        return self.modules["model"]

    def training_view(self, key: str) -> nn.Module:
        """The module whose ``forward`` :meth:`train_step` calls for network ``key`` (default: the network)."""
        return self.modules[key]

    def wrap(self, wrap_fn) -> None:
        """Let the trainer wrap each training view (``DistributedDataParallel`` under torchrun)."""
        self._nets = {key: wrap_fn(self.training_view(key)) for key in self.modules}

    def net(self, key: str = "model") -> nn.Module:
        """What a training step runs for network ``key``: its (possibly wrapped) training view."""
        if key not in self._nets:
            self.wrap(lambda module: module)
        return self._nets[key]

    def _place(self, net: nn.Module) -> nn.Module:
        return net.to(self.device, memory_format=self.memory_format)

    def split(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sRGB batch -> (normalised L input, regression target: normalised ab or sRGB). Within
        :meth:`run_step` the L input is degraded (``augment.degrade`` > 0); the target never is."""
        L, ab = rgb_to_l_ab(rgb)
        target = ab if self.cfg.target == "lab" else rgb
        if self._in_step and self.cfg.augment.degrade > 0:
            L = degrade_l(L, self.cfg.augment.degrade, self._step_generator)
        return L.contiguous(memory_format=self.memory_format), target

    def run_step(self, rgb: torch.Tensor, stepper, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """What the trainer calls for one micro-batch: :meth:`train_step`, during which :meth:`split` draws the
        input degradation from ``generator`` (CPU; the trainer's per-step augmentation generator; None: torch's
        global generator)."""
        self._in_step, self._step_generator = True, generator
        try:
            return self.train_step(rgb, stepper)
        finally:
            self._in_step, self._step_generator = False, None

    def to_rgb(self, L: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Network output -> sRGB ``[B,3,H,W]`` in [0,1]."""
        return l_ab_to_rgb(L, output) if self.cfg.target == "lab" else output.clamp(0.0, 1.0)

    @torch.no_grad()
    def predict(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gray input as sRGB, prediction as sRGB) for a batch, both ``[B,3,H,W]`` in [0,1]."""
        L, _ = self.split(rgb)
        gray = l_ab_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1))
        return gray, self.to_rgb(L, self.model(L))

    def prepare(self, train_data) -> None:
        """Called once when a run starts (not on resume), after ``init_from``, with the training dataset
        (:class:`chromatize.data.dataset.CachedImages`): the place to gather data statistics. Default: nothing."""

    def train_step(self, rgb: torch.Tensor, stepper) -> dict[str, torch.Tensor]:
        """One micro-batch: losses to ``stepper.step(name, loss)``; returns ``{"loss": ..., ...}`` detached."""
        raise NotImplementedError

    @torch.no_grad()
    def eval_step(self, rgb: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError


class RegressionTask(Task):
    """Pixel regression of ab (or sRGB) with MSE, L1 or Huber; plus, with ``loss.semantic`` / ``loss.perceptual``
    > 0, those weights times the ImageNet teacher's losses on the predicted sRGB against the photo
    (:class:`chromatize.train.teacher.ClassifierTeacher`). The logged ``loss`` is the pixel term alone, so
    validation losses compare across recipes; the teacher's terms are logged as ``semantic`` and ``perceptual``."""

    def __init__(self, cfg: TrainConfig, device: torch.device):
        super().__init__(cfg, device)
        self.criterion = regression_loss(cfg.loss.name, cfg.loss.huber_delta)
        self.teacher = None
        if cfg.loss.semantic > 0 or cfg.loss.perceptual > 0:
            from chromatize.train.teacher import ClassifierTeacher

            self.teacher = self._place(ClassifierTeacher())

    def train_step(self, rgb, stepper):
        L, target = self.split(rgb)
        return self.step_on(self.net()(L).float(), L, target, rgb, stepper)

    def step_on(self, output, L, target, rgb, stepper):
        """The pixel loss of ``output`` against ``target`` (plus the teacher's terms on the sRGB of ``(L, output)``
        against ``rgb``) to ``stepper``; returns the detached losses."""
        loss = self.criterion(output, target)
        logged = {"loss": loss.detach()}
        if self.teacher is not None:
            semantic, perceptual = self.teacher.losses(self.to_rgb(L, output), rgb)
            logged.update(semantic=semantic.detach(), perceptual=perceptual.detach())
            loss = loss + self.cfg.loss.semantic * semantic + self.cfg.loss.perceptual * perceptual
        stepper.step("model", loss)
        return logged

    @torch.no_grad()
    def eval_step(self, rgb):
        L, target = self.split(rgb)
        return {"loss": self.criterion(self.model(L), target).item()}


class HintTask(RegressionTask):
    """Regression with simulated user hints (:func:`chromatize.data.hints.simulate_hints`, settings
    ``cfg.hints``): the network takes ``(L, hints)``, the hints drawn from the true ab; often none, so it
    stays an automatic colorizer too; with ``hints.recolour`` some regions are recoloured and hinted, and the
    target is the recoloured photo. The dense prior is built outside the network
    (:func:`chromatize.hint_prior.hint_prior`), as the inference core does. Validation draws hints with a fixed
    seed, so its loss is comparable."""

    def __init__(self, cfg: TrainConfig, device: torch.device):
        super().__init__(cfg, device)
        if "hints" not in model_info(self.model).inputs:
            raise ValueError(f"task hints needs a model that takes hints; {cfg.model.name} takes {model_info(self.model).inputs}")
        if cfg.target != "lab":
            raise ValueError("task hints trains ab (target lab)")
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)

    def train_step(self, rgb, stepper):
        L, ab = self.split(rgb)
        target, hints = self.hints_for(rgb, ab, self.generator, self.rng)
        output = self.net()(L, hints, hint_prior(L, hints)).float()
        weight = self.cfg.hints.recolour_weight
        if weight != 1.0:  # recoloured pixels weigh more: the residual there is scaled
            scale = torch.where((target - ab).abs().sum(1, keepdim=True) > 1e-6, weight, 1.0)
            output = target + (output - target) * scale
        return self.step_on(output, L, target, rgb, stepper)

    def hints_for(self, rgb, ab, generator, rng):
        """(target ab, hints) for a batch: recoloured regions with their hints (``hints.recolour`` > 0,
        :mod:`chromatize.data.recolour`) and simulated hints of the (recoloured) photo."""
        if self.cfg.hints.recolour > 0:
            return recoloured_hints(rgb, ab, self.cfg.hints, rng, generator)
        return ab, simulate_hints(ab, self.cfg.hints, generator)

    @torch.no_grad()
    def eval_step(self, rgb):
        L, ab = self.split(rgb)
        target, hints = self.hints_for(rgb, ab, torch.Generator().manual_seed(12345), np.random.default_rng(12345))
        return {"loss": self.criterion(self.model(L, hints, hint_prior(L, hints)), target).item()}


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

    def train_step(self, rgb, stepper):
        L, real = self.split(rgb)
        D = self.net("discriminator")
        fake = self.net("model")(L).float()

        d_loss = 0.5 * (self.gan(D(torch.cat([L, fake.detach()], 1)), False) + self.gan(D(torch.cat([L, real], 1)), True))
        stepper.step("discriminator", d_loss)

        plain_d = self.modules["discriminator"]  # unwrapped: no gradient reaches D in the generator step
        plain_d.requires_grad_(False)
        try:
            g_gan = self.gan(plain_d(torch.cat([L, fake], 1)), True)
        finally:
            plain_d.requires_grad_(True)
        l1 = self.l1(fake, real)
        stepper.step("model", g_gan + self.cfg.loss.l1_lambda * l1)
        return {"loss": l1.detach(), "g_gan": g_gan.detach(), "d_loss": d_loss.detach()}

    @torch.no_grad()
    def eval_step(self, rgb):
        L, real = self.split(rgb)
        return {"loss": self.l1(self.model(L), real).item()}


TASKS: dict[str, type[Task]] = {"regression": RegressionTask, "hints": HintTask, "pix2pix": Pix2PixTask}


def register_task(name: str):
    """Class decorator adding a :class:`Task` subclass to :data:`TASKS` (selected with ``task: NAME``)."""

    def decorate(cls: type[Task]) -> type[Task]:
        if name in TASKS and TASKS[name] is not cls:
            raise ValueError(f"task {name!r} is already registered")
        TASKS[name] = cls
        return cls

    return decorate


def create_task(cfg: TrainConfig, device: torch.device) -> Task:
    """The task named by ``cfg.task``, with its networks built and on ``device``."""
    import chromatize.train.classification  # noqa: F401  (registers "classification")

    if cfg.task not in TASKS:
        raise ValueError(f"unknown task {cfg.task!r}; registered tasks: {', '.join(sorted(TASKS))}")
    return TASKS[cfg.task](cfg, device)
