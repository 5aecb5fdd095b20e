"""Optimisers and learning-rate schedules: which ones a run may name, and how each is built.

The one owner of the names that ``optim.name``, ``optim.schedule`` and ``lr_scaling`` accept (the config
checks values against these tables) and of the learning rate each parameter gets: ``optim.lr`` x the
``lr_scaling`` factor x the schedule's multiplier at the step, and x ``unfreeze_lr_scale`` for the
parameters under ``freeze`` prefixes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from chromatize.train.config import OptimConfig, TrainConfig


def _adam(groups: list[dict], lr: float, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=lr, betas=(o.beta1, 0.999), weight_decay=o.weight_decay)


def _adamax(groups: list[dict], lr: float, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.Adamax(groups, lr=lr, betas=(o.beta1, 0.999), weight_decay=o.weight_decay)


def _rmsprop(groups: list[dict], lr: float, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay)


def _sgd(groups: list[dict], lr: float, o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay)


#: ``optim.name`` -> the optimiser over (parameter groups, learning rate, :class:`OptimConfig`).
OPTIMIZERS = {"adam": _adam, "adamax": _adamax, "rmsprop": _rmsprop, "sgd": _sgd}


def _constant(o: OptimConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    return lambda step: 1.0


def _cosine(o: OptimConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def _stepwise(o: OptimConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    return lambda step: o.gamma ** ((step // steps_per_epoch) // max(o.step_epochs, 1))


#: ``optim.schedule`` -> (OptimConfig, steps per epoch, total steps) -> (step -> multiplier of the base lr).
SCHEDULES = {"none": _constant, "cosine": _cosine, "step": _stepwise}

#: ``lr_scaling`` settings: the learning-rate factor as a function of (global batch / per-rank batch).
LR_SCALINGS = {"none": lambda k: 1.0, "linear": float, "sqrt": math.sqrt}


def under_prefixes(name: str, prefixes: list[str]) -> bool:
    """Whether the parameter or module ``name`` is one of ``prefixes`` or lies under one (``enc`` holds
    ``enc.0.weight``, not ``encoder.weight``)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def lr_scale(cfg: TrainConfig, world: int) -> float:
    """The ``lr_scaling`` factor for ``cfg.accumulate`` micro-batches on each of ``world`` ranks."""
    return LR_SCALINGS[cfg.lr_scaling](cfg.accumulate * world)


def build_optimizer(cfg: TrainConfig, named_params: list[tuple[str, torch.nn.Parameter]], freeze: list[str],
                    lr_scale: float = 1.0) -> torch.optim.Optimizer:
    """The configured optimiser at ``optim.lr x lr_scale``; parameters under ``freeze`` prefixes form a group
    at that lr x unfreeze_lr_scale."""
    lr = cfg.optim.lr * lr_scale
    frozen = [p for n, p in named_params if under_prefixes(n, freeze)]
    rest = [p for n, p in named_params if not under_prefixes(n, freeze)]
    groups = [g for g in ({"params": rest}, {"params": frozen, "lr": lr * cfg.unfreeze_lr_scale}) if g["params"]]
    return OPTIMIZERS[cfg.optim.name](groups, lr, cfg.optim)


def build_optimizers(cfg: TrainConfig, modules: dict[str, torch.nn.Module], lr_scale: float = 1.0
                     ) -> dict[str, torch.optim.Optimizer]:
    """One optimiser per network of a task (same keys); the colorizer's (``"model"``) gives the parameters under
    ``freeze`` prefixes their own group. ValueError when those prefixes match no parameter of the colorizer."""
    named = list(modules["model"].named_parameters())
    if cfg.freeze and not any(under_prefixes(name, cfg.freeze) for name, _ in named):
        raise ValueError(f"freeze prefixes {cfg.freeze} match no parameter of {cfg.model.name!r}")
    return {key: build_optimizer(cfg, list(net.named_parameters()), cfg.freeze if key == "model" else [], lr_scale)
            for key, net in modules.items()}


def set_frozen(model: torch.nn.Module, prefixes: list[str], frozen: bool) -> None:
    """Stop (``frozen``) or resume training the parameters under ``prefixes``. Frozen, the modules under them
    are put in eval mode too, so BatchNorm keeps its running statistics: call it after ``model.train()``."""
    for name, p in model.named_parameters():
        if under_prefixes(name, prefixes):
            p.requires_grad_(not frozen)
    if frozen:
        for name, module in model.named_modules():
            if under_prefixes(name, prefixes):
                module.eval()


def lr_factor(cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    """The schedule as a function step -> multiplier of the base learning rate."""
    return SCHEDULES[cfg.optim.schedule](cfg.optim, steps_per_epoch, total_steps)


def build_schedulers(cfg: TrainConfig, optimizers: dict[str, torch.optim.Optimizer], steps_per_epoch: int,
                     total_steps: int) -> dict[str, torch.optim.lr_scheduler.LambdaLR]:
    """One scheduler per optimiser (same keys), all following :func:`lr_factor`."""
    factor = lr_factor(cfg, steps_per_epoch, total_steps)
    return {key: torch.optim.lr_scheduler.LambdaLR(o, factor) for key, o in optimizers.items()}
