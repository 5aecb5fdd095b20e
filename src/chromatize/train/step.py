"""The one place where gradients become weight updates: backward, accumulation, clipping, mixed precision.

A task's ``train_step(rgb, stepper)`` computes its losses and hands each one to
:meth:`Stepper.step` with the name of the optimiser it drives (``"model"``, ``"discriminator"``). The
trainer decides what that means: with ``accumulate=K`` the loss is divided by K and the optimiser steps
only on the K-th micro-batch; with ``clip_grad_norm`` the gradients are clipped first; with ``amp=fp16``
a gradient scaler guards against underflow (bf16 needs none). Nothing here reads a value back from the
device, so a training step never waits for the GPU.
"""

from __future__ import annotations

import contextlib

import torch

#: ``amp`` settings and the dtype each one computes in.
AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp: str, device: torch.device) -> None:
    """Refuse mixed precision where it is not supported (it is a CUDA feature here)."""
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}; got {amp!r}")
    if amp != "off" and device.type != "cuda":
        raise ValueError(f"amp={amp} needs a CUDA device; this run is on {device.type} (set amp=off)")


class Stepper:
    """Optimisers by name, plus how to step them. ``Stepper(optimizers)`` alone is a plain
    zero_grad/backward/step, as used by the benchmarks."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], *, accumulate: int = 1,
                 clip_grad_norm: float = 0.0, amp: str = "off", device: torch.device = torch.device("cpu")):
        if accumulate < 1:
            raise ValueError(f"accumulate must be >= 1, got {accumulate}")
        check_amp(amp, device)
        self.optimizers, self.accumulate, self.clip = optimizers, accumulate, clip_grad_norm
        self.device, self.dtype = device, AMP_DTYPES[amp]
        self.scaler = torch.amp.GradScaler(device.type) if amp == "fp16" else None
        self.micro = 0  # index of the current micro-batch within the optimiser step
        self.stepped: set[str] = set()

    @property
    def last_micro(self) -> bool:
        """True on the micro-batch after which the optimisers step."""
        return self.micro == self.accumulate - 1

    def autocast(self):
        """The forward-pass context: autocast to the amp dtype, or nothing."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self, key: str, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` into the parameters of optimiser ``key``; update them on the last micro-batch."""
        optimizer = self.optimizers[key]
        loss = loss / self.accumulate if self.accumulate > 1 else loss
        with torch.autocast(self.device.type, enabled=False):
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        if not self.last_micro:
            return
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        if self.clip > 0:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.clip, foreach=True)
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        self.stepped.add(key)

    def finish(self) -> bool:
        """End a micro-batch; True when it ended an optimiser step (then the gradient scaler is updated)."""
        done = self.last_micro
        if done and self.scaler is not None and self.stepped:
            self.scaler.update()
        if done:
            self.stepped.clear()
        self.micro = 0 if done else self.micro + 1
        return done
