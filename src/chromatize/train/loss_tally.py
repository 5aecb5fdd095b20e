"""The training losses of an epoch, read back from the device only at intervals.

Each micro-batch's losses are added on the device (:meth:`LossTally.add`: no read-back, so a training step
never waits for the GPU); :meth:`LossTally.flush` reads them back in one sync, sums them over ranks into the
epoch's :attr:`LossTally.totals` and raises :class:`NonFiniteLossError` naming the first NaN/inf loss.
"""

from __future__ import annotations

import math

import torch

from chromatize.train.distributed import Ranks
from chromatize.train.tasks import NonFiniteLossError


def empty_totals() -> dict:
    """An epoch's totals before its first read-back: summed ``loss`` over ``batches`` micro-batches of
    ``images`` images in ``seconds`` of training (per rank), and under ``terms`` a task's other losses."""
    return {"loss": 0.0, "batches": 0, "images": 0, "seconds": 0.0}


class LossTally:
    """Losses since the last read-back (on ``ranks.device``) and the epoch's totals (host numbers, all ranks).

    ``totals`` is saved in the training state as it is and restored by assigning it.
    """

    def __init__(self, ranks: Ranks):
        self.ranks = ranks
        self.totals = empty_totals()
        self._pending = self._zero_pending()

    def _zero_pending(self) -> dict:
        return {"bad": torch.zeros((), dtype=torch.long, device=self.ranks.device), "values": None, "keys": None,
                "sums": None, "batches": 0, "images": 0, "seconds": 0.0}

    @property
    def seconds(self) -> float:
        """Training seconds of this epoch so far, the ones not yet read back included."""
        return self.totals["seconds"] + self._pending["seconds"]

    def add_seconds(self, seconds: float) -> None:
        """Time spent on a training step (read back with the losses)."""
        self._pending["seconds"] += seconds

    def add(self, out: dict[str, torch.Tensor], images: int, step: int) -> None:
        """Add a micro-batch's losses (scalar tensors, the task's ``"loss"`` first) of optimiser step ``step``
        (0-based) on the device; remember the first non-finite one."""
        p = self._pending
        values = torch.stack([v.detach().float().reshape(()) for v in out.values()])
        first = ~torch.isfinite(values).all() & (p["bad"] == 0)
        p["bad"] += first.long() * (step + 1)
        p["values"] = values if p["values"] is None else torch.where(first, values, p["values"])
        p["keys"] = list(out)
        p["sums"] = values if p["sums"] is None else p["sums"] + values  # the first is the task's "loss"
        p["batches"] += 1
        p["images"] += images

    def flush(self) -> None:
        """Read the pending losses back (one sync), sum them over ranks into :attr:`totals`, stop on NaN/inf."""
        p = self._pending
        bad = int(p["bad"].item())
        sums = p["sums"].tolist() if p["sums"] is not None else [0.0]
        terms = p["keys"][1:] if p["keys"] else []
        loss, batches, images, seconds, any_bad, *sums = self.ranks.sum(
            [sums[0], p["batches"], p["images"], p["seconds"], float(bad > 0), *sums[1:]])
        self._pending = self._zero_pending()
        if any_bad:
            if bad:
                name, value = next((k, v) for k, v in zip(p["keys"], p["values"].tolist()) if not math.isfinite(v))
                raise NonFiniteLossError(f"{'training' if name == 'loss' else name} loss is {value} at step {bad}")
            raise NonFiniteLossError("a loss is not finite on another rank")
        a = self.totals
        a["loss"] += loss
        a["batches"] += int(batches)
        a["images"] += int(images)
        a["seconds"] += seconds / self.ranks.world
        for key, value in zip(terms, sums):  # a task's other losses (pix2pix's g_gan, the teacher's terms)
            a.setdefault("terms", {}).setdefault(key, 0.0)
            a["terms"][key] += value

    def new_epoch(self) -> None:
        """Start the next epoch's totals (after its last :meth:`flush`)."""
        self.totals = empty_totals()

    def mean_loss(self) -> float:
        """The epoch's mean ``loss`` per micro-batch so far (read back)."""
        return self.totals["loss"] / max(self.totals["batches"], 1)

    def mean_terms(self) -> dict[str, float]:
        """The epoch's mean of each other loss of the task (pix2pix's ``g_gan``...) so far, by name."""
        return {key: value / max(self.totals["batches"], 1) for key, value in self.totals.get("terms", {}).items()}

    def images_per_second(self) -> float:
        """Images trained on per second of training time (all ranks) this epoch so far."""
        return self.totals["images"] / max(self.totals["seconds"], 1e-9)
