"""Ranks for the trainer: plain ``torch.distributed`` as started by ``torchrun``, or one process.

:func:`setup` reads the environment torchrun (or SLURM / Kubernetes launchers) sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``), joins the process group with NCCL on CUDA
and gloo on CPU, and returns a :class:`Ranks`. Control decisions (stop flags, loss sums) travel over a gloo
group on the CPU, so agreeing on "stop now" never waits on the GPU. With one process every method is a
no-op and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from chromatize import devices


def resolve_device(name: str, local_rank: int = 0, distributed: bool = False) -> torch.device:
    """``"auto"`` -> cuda, else mps, else cpu; otherwise ``torch.device(name)``, checked. Under torchrun a
    bare ``cuda`` means ``cuda:LOCAL_RANK`` (one GPU per process)."""
    kind = name.split(":")[0] if name != "auto" else devices.resolve_device(name).type
    if distributed and kind not in ("cpu", "cuda"):
        raise ValueError(f"distributed training runs on cpu (gloo) or cuda (nccl), not {kind}; set device=cpu")
    device = devices.resolve_device(name)
    if device.type == "cuda" and distributed and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


@dataclass
class Ranks:
    """This process's place in the run: ``rank`` of ``world`` (``local`` on its machine), its ``device``."""

    rank: int = 0
    world: int = 1
    local: int = 0
    device: torch.device = torch.device("cpu")
    backend: str = ""  # "gloo" or "nccl"; "" for one process
    _control: Any = None  # the CPU (gloo) group for flags and counters
    _owned: bool = False  # setup() joined the process group, so close() leaves it

    @property
    def main(self) -> bool:
        """True on the process that writes files (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank (a stop decision all ranks share)."""
        if not self.distributed:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._control)
        return bool(t.item() > 0)

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks of a few numbers (on the CPU group)."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t, group=self._control)
        return t.tolist()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable)."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self._control)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier(group=self._control)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in ``DistributedDataParallel`` (gradients averaged over ranks); itself for one process."""
        if not self.distributed:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def close(self) -> None:
        """Leave the process group (when :func:`setup` joined it), together: a rank that tears down its gloo
        connections while another still finishes its last collective can make that one abort (SIGABRT)."""
        if self._owned and dist.is_initialized():
            try:
                self.barrier()
            except RuntimeError:  # a peer is gone already (killed): nothing to wait for
                pass
            dist.destroy_process_group()


def env_world() -> tuple[int, int, int]:
    """``(RANK, WORLD_SIZE, LOCAL_RANK)`` from the environment; ``(0, 1, 0)`` when unset. Bad values raise."""
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ValueError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} must be in [0, WORLD_SIZE={world})")
    return rank, world, local


def setup(device_name: str) -> Ranks:
    """Join the run torchrun started (``WORLD_SIZE`` > 1), or describe a single process."""
    rank, world, local = env_world()
    device = resolve_device(device_name, local, distributed=world > 1)
    if world == 1:
        return Ranks(device=device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    control = dist.new_group(backend="gloo") if backend != "gloo" else None
    return Ranks(rank, world, local, device, backend, control, owned)


def epoch_shard(n: int, per_rank: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    """This rank's ``per_rank`` indices into a dataset of ``n`` for ``epoch``, as DistributedSampler does it:
    one permutation of ``range(n)`` drawn from ``(seed, epoch)`` (the same on every rank; repeated when an epoch
    needs more than ``n``), of which rank ``r`` takes items ``r, r + world, ...``. Ranks are disjoint within
    a pass, and together their first batches are a single process's first ``world`` batches' worth."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    need = per_rank * world
    perm = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-need // n))])[:need]
    return perm[rank::world].tolist()
