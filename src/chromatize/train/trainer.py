"""The generic trainer: data, optimisers, schedules, freezing, checkpoints, resume. It knows nothing of losses.

:func:`train` starts a run (or resumes one) and returns a :class:`TrainResult`. Durability:

- ``last.pt`` (full training state) is written atomically at every epoch end, every ``checkpoint_every``
  steps and on Ctrl-C / SIGTERM, so killing the process at any moment leaves only valid files, and
  ``train(resume=RUN_DIR)`` continues at the same step with the same data order.
- ``metrics.jsonl`` is rewritten from the history stored inside ``last.pt``, so log and checkpoint agree.
- ``best.pt`` is the lowest validation loss, or with ``select.metric`` the best checkpoint by that evaluation
  metric (:mod:`chromatize.train.selection`; rank 0 evaluates, ``selection.jsonl`` logs every evaluation,
  ``best_loss.pt`` then keeps the lowest loss).
- A NaN/inf loss raises :class:`TrainingDiverged` at the next read-back (every ``log_every`` steps and
  before anything is written), so the checkpoints on disk stay those of the last good state.

Under ``torchrun`` (:mod:`chromatize.train.distributed`) each rank trains on its shard of every epoch with
its networks in ``DistributedDataParallel``; rank 0 alone writes; stop decisions (Ctrl-C / SIGTERM,
``max_minutes``, NaN) are agreed by all ranks at the same step. Backward, accumulation, clipping and mixed
precision happen in :class:`chromatize.train.step.Stepper`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader

from chromatize.checkpoint import read_checkpoint, save_checkpoint
from chromatize.data.dataset import CachedImages, folder_datasets
from chromatize.fsutil import atomic_path, atomic_write_text
from chromatize.registry import unwrap_model
from chromatize.train import rundir
from chromatize.train.config import TrainConfig, apply_overrides, config_from_dict, config_to_dict, dump_config, load_config
from chromatize.train.distributed import Ranks, epoch_shard, resolve_device, setup
from chromatize.train.selection import Selector
from chromatize.train.step import LR_SCALINGS, Stepper, check_amp
from chromatize.train.tasks import NonFiniteLossError, Task, create_task

log = logging.getLogger("chromatize.train")

#: Settings that may change when resuming; everything else must stay as the run started.
RESUMABLE_KEYS = ("epochs", "max_steps", "max_minutes", "device", "threads", "num_workers", "progress", "checkpoint_every", "samples",
                  "data", "val_data", "cache_dir", "amp", "log_every")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val: float | None
    history: list[dict]


def _matches(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def build_optimizer(cfg: TrainConfig, named_params: list[tuple[str, torch.nn.Parameter]], freeze: list[str],
                    lr_scale: float = 1.0) -> torch.optim.Optimizer:
    """The configured optimiser at ``optim.lr x lr_scale``; parameters under ``freeze`` prefixes form a group
    at that lr x unfreeze_lr_scale."""
    o = cfg.optim
    lr = o.lr * lr_scale
    frozen = [p for n, p in named_params if _matches(n, freeze)]
    rest = [p for n, p in named_params if not _matches(n, freeze)]
    groups = [g for g in ({"params": rest}, {"params": frozen, "lr": lr * cfg.unfreeze_lr_scale}) if g["params"]]
    factories = {
        "adam": lambda: torch.optim.Adam(groups, lr=lr, betas=(o.beta1, 0.999), weight_decay=o.weight_decay),
        "adamax": lambda: torch.optim.Adamax(groups, lr=lr, betas=(o.beta1, 0.999), weight_decay=o.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay),
        "sgd": lambda: torch.optim.SGD(groups, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay),
    }
    return factories[o.name]()


def lr_factor(cfg: TrainConfig, steps_per_epoch: int, total_steps: int):
    """The schedule as a function step -> multiplier of the base learning rate."""
    o = cfg.optim
    schedules = {
        "none": lambda step: 1.0,
        "cosine": lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps)),
        "step": lambda step: o.gamma ** ((step // steps_per_epoch) // max(o.step_epochs, 1)),
    }
    return schedules[o.schedule]


def init_weights(model: torch.nn.Module, checkpoint: str | os.PathLike) -> list[str]:
    """Load the colorizer weights of ``checkpoint`` into ``model``; returns the names of grown tensors.

    Same registered architecture: a plain load. A different one is accepted only when it has the same
    tensors and each differs at most by more input channels here (a model given an extra input, such as
    ``mobilenet_unet`` -> ``mobilenet_unet_hints``): the stored weights fill the first channels and the
    new ones start at 0, so the new model starts as exactly the old one.
    """
    ckpt = read_checkpoint(checkpoint)
    mine, theirs = model.chromatize_info.to_dict(), ckpt["arch"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["model_state"].items()}
    if (mine["name"], mine["kwargs"]) == (theirs["name"], theirs["kwargs"]):
        model.load_state_dict(state)
        return []
    own = model.state_dict()
    refuse = ValueError(f"init_from {checkpoint}: it holds {theirs['name']} {theirs['kwargs']}, this run builds "
                        f"{mine['name']} {mine['kwargs']}, and its tensors do not match (beyond added input channels)")
    if set(own) != set(state):
        raise refuse
    grown = []
    for key, value in state.items():
        target = own[key]
        if value.shape == target.shape:
            continue
        if value.ndim != target.ndim or value.ndim < 2 or value.shape[:1] + value.shape[2:] != target.shape[:1] + target.shape[2:] \
                or value.shape[1] > target.shape[1]:
            raise refuse
        wide = torch.zeros_like(target)
        wide[:, : value.shape[1]] = value
        state[key] = wide
        grown.append(key)
    model.load_state_dict(state)
    return grown


@contextlib.contextmanager
def _deferred_interrupts() -> Iterator[dict]:
    """Turn SIGINT / SIGTERM into a flag checked between steps (a second Ctrl-C interrupts at once)."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class Trainer:
    """One run in ``run_dir`` on this process's rank; call :meth:`fit`."""

    def __init__(self, cfg: TrainConfig, run_dir: Path | None, ranks: Ranks | None = None):
        self.cfg, self.run_dir = cfg, run_dir
        if not cfg.data:
            raise ValueError("no training data: set data=FOLDER (in the YAML or with --set data=FOLDER)")
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.ranks = ranks or Ranks(device=resolve_device(cfg.device))
        self.device, world = self.ranks.device, self.ranks.world
        check_amp(cfg.amp, self.device)
        if cfg.sync_bn and world > 1 and self.device.type != "cuda":
            raise ValueError("sync_bn needs CUDA (torch's SyncBatchNorm has no CPU kernel); set sync_bn=false")
        torch.manual_seed(cfg.seed)
        leader = self.ranks.local == 0  # one process per machine builds the cache (atomic files), then the rest open it
        if not leader:
            self.ranks.barrier()
        self.train_ds, self.val_ds = folder_datasets(
            cfg.data, cfg.image_size, val_fraction=cfg.val_fraction, cache_size=cfg.cache_size,
            cache_dir=cfg.cache_dir or None, augment_cfg=cfg.augment, progress=cfg.progress and self.ranks.main,
            val_root=cfg.val_data or None,
        )
        if leader:
            self.ranks.barrier()
        n = len(self.train_ds)
        self.batch_size = min(cfg.batch_size, n)
        self.global_batch = self.batch_size * cfg.accumulate * world  # images per optimiser step, all ranks
        self.steps_per_epoch = max(1, (cfg.epoch_size or n) // self.global_batch)
        self.total_steps = cfg.max_steps if cfg.max_steps > 0 else cfg.epochs * self.steps_per_epoch
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.lr_scale = LR_SCALINGS[cfg.lr_scaling](cfg.accumulate * world)

        self.task: Task = create_task(cfg, self.device)
        self.selector = Selector(cfg.select, cfg.val_data, cfg.data, self.device) if cfg.select.active else None
        if cfg.sync_bn and world > 1:
            self.task.modules = {k: torch.nn.SyncBatchNorm.convert_sync_batchnorm(m) for k, m in self.task.modules.items()}
        named = list(self.task.model.named_parameters())
        if cfg.freeze and not any(_matches(name, cfg.freeze) for name, _ in named):
            raise ValueError(f"freeze prefixes {cfg.freeze} match no parameter of {cfg.model.name!r}")
        self.optimizers = {
            key: build_optimizer(cfg, list(net.named_parameters()), cfg.freeze if key == "model" else [], self.lr_scale)
            for key, net in self.task.modules.items()
        }
        factor = lr_factor(cfg, self.steps_per_epoch, self.total_steps)
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in self.optimizers.items()}
        self.stepper = Stepper(self.optimizers, accumulate=cfg.accumulate, clip_grad_norm=cfg.clip_grad_norm,
                               amp=cfg.amp, device=self.device)
        self.step = self.epoch = self.step_in_epoch = 0
        self.best_val: float | None = None
        self.history: list[dict] = []
        self.selections: list[dict] = []  # select.metric evaluations (rank 0's; saved in the training state)
        self._selected_step = -1
        self.accum = {"loss": 0.0, "batches": 0, "images": 0, "seconds": 0.0}
        self.resumed = False
        self._wrapped_for: tuple | None = None
        self._pending = self._zero_pending()

    def _info(self, message: str) -> None:
        if self.ranks.main:
            log.info(message)

    def describe(self) -> str:
        """The run's first line: ranks, steps per epoch per rank, effective batch, learning rate and its scaling."""
        cfg, r = self.cfg, self.ranks
        photos = len(set(self.train_ds.cache.paths))
        where = f"{r.world} ranks ({r.backend}{', SyncBatchNorm' if cfg.sync_bn else ''})" if r.distributed else "1 process"
        return (f"run {self.run_dir}: world size {r.world} [{where}, device {self.device}, amp {cfg.amp}], "
                f"{self.steps_per_epoch} steps per epoch on each rank, effective batch {self.global_batch} "
                f"({self.batch_size} x {cfg.accumulate} accumulated x {r.world} ranks), "
                f"lr {cfg.optim.lr * self.lr_scale:g} (optim.lr {cfg.optim.lr:g} x {self.lr_scale:g}, lr_scaling {cfg.lr_scaling}); "
                f"{photos} photos as {len(self.train_ds)} train / {len(self.val_ds)} val squares, {self.total_steps} steps")

    # ---- state -------------------------------------------------------------------------------
    def training_state(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "step": self.step, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "world": self.ranks.world,
            "best_val": self.best_val, "history": self.history, "accum": dict(self.accum), "rng": rng,
            "selections": self.selections,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.stepper.scaler.state_dict() if self.stepper.scaler is not None else None,
        }

    def save(self, path: Path, *, with_state: bool = True, metrics: dict | None = None, readout: dict | None = None) -> None:
        """Write a checkpoint of the plain networks (rank 0 only; other ranks return at once)."""
        if not self.ranks.main:
            return
        extra = {k: unwrap_model(m) for k, m in self.task.modules.items() if k != "model"}
        save_checkpoint(
            path, unwrap_model(self.task.model), config=config_to_dict(self.cfg), metrics=metrics or self._summary(),
            training_state=self.training_state() if with_state else None, extra_models=extra or None, readout=readout,
        )

    def _summary(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {"step": self.step, "epoch": self.epoch, "best_val_loss": self.best_val,
                "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss")}

    def load(self, path: Path) -> None:
        """Restore the full training state from ``path`` (every rank reads the same file)."""
        ckpt = read_checkpoint(path, map_location=self.device)
        st = ckpt["training_state"]
        if st.get("world", 1) != self.ranks.world:
            raise ValueError(f"{path} was trained by {st.get('world', 1)} process(es); resume it with the same number "
                             f"(torchrun --nproc_per_node x --nnodes), not {self.ranks.world}")
        unwrap_model(self.task.model).load_state_dict(ckpt["model_state"])
        for key, entry in (ckpt.get("extra_models") or {}).items():
            unwrap_model(self.task.modules[key]).load_state_dict(entry["state"])
        for k, o in self.optimizers.items():
            o.load_state_dict(st["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(st["schedulers"][k])
        if self.stepper.scaler is not None and st.get("scaler"):
            self.stepper.scaler.load_state_dict(st["scaler"])
        self.step, self.epoch, self.step_in_epoch = st["step"], st["epoch"], st["step_in_epoch"]
        self.best_val, self.history, self.accum = st["best_val"], list(st["history"]), dict(st["accum"])
        self.selections = list(st.get("selections", []))
        self._selected_step = self.selections[-1]["step"] if self.selections else -1
        torch.set_rng_state(st["rng"]["torch"].cpu())
        if "cuda" in st["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in st["rng"]["cuda"]])
        self.resumed = True

    def save_last(self) -> None:
        self.save(self.run_dir / "last.pt")
        if self.ranks.main:
            rundir.write_metrics(self.run_dir, self.history)

    # ---- losses, read back at intervals ------------------------------------------------------
    def _zero_pending(self) -> dict:
        return {"bad": torch.zeros((), dtype=torch.long, device=self.device), "values": None, "keys": None,
                "sums": None, "batches": 0, "images": 0, "seconds": 0.0}

    def _record(self, out: dict[str, torch.Tensor], images: int) -> None:
        """Add a micro-batch's losses on the device (no read-back); remember the first non-finite one."""
        p = self._pending
        values = torch.stack([v.detach().float().reshape(()) for v in out.values()])
        first = ~torch.isfinite(values).all() & (p["bad"] == 0)
        p["bad"] += first.long() * (self.step + 1)
        p["values"] = values if p["values"] is None else torch.where(first, values, p["values"])
        p["keys"] = list(out)
        p["sums"] = values if p["sums"] is None else p["sums"] + values  # the first is the task's "loss"
        p["batches"] += 1
        p["images"] += images

    def _flush(self) -> None:
        """Read the pending losses back (one sync), sum them over ranks, stop on NaN/inf."""
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
        a = self.accum
        a["loss"] += loss
        a["batches"] += int(batches)
        a["images"] += int(images)
        a["seconds"] += seconds / self.ranks.world
        for key, value in zip(terms, sums):  # a task's other losses (pix2pix's g_gan, the teacher's terms)
            a.setdefault("terms", {}).setdefault(key, 0.0)
            a["terms"][key] += value

    # ---- loop --------------------------------------------------------------------------------
    def _set_frozen(self) -> None:
        frozen = self.epoch < self.cfg.freeze_epochs and bool(self.cfg.freeze)
        for name, p in self.task.model.named_parameters():
            if _matches(name, self.cfg.freeze):
                p.requires_grad_(not frozen)
        for net in self.task.modules.values():
            net.train()
        if frozen:  # frozen BatchNorm keeps its running statistics too
            for name, mod in self.task.model.named_modules():
                if _matches(name, self.cfg.freeze):
                    mod.eval()
        trainable = tuple(p.requires_grad for net in self.task.modules.values() for p in net.parameters())
        if trainable != self._wrapped_for:  # DDP registers the trainable parameters when it wraps
            self.task.wrap(self.ranks.wrap)
            self._wrapped_for = trainable

    def _epoch_indices(self) -> list[int]:
        per_rank = self.steps_per_epoch * self.batch_size * self.cfg.accumulate
        shard = epoch_shard(len(self.train_ds), per_rank, self.cfg.seed, self.epoch, self.ranks.rank, self.ranks.world)
        return shard[self.step_in_epoch * self.batch_size * self.cfg.accumulate :]

    def _augment_generator(self) -> torch.Generator:
        """Augmentation draws from (seed, step, micro-batch, rank): each rank its own, the same after a resume."""
        key = ((self.cfg.seed * 1_000_003 + self.step) * 64 + self.stepper.micro) * 4099 + self.ranks.rank
        return torch.Generator().manual_seed(key % (2**63))

    def _loader(self, dataset, indices) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, sampler=indices, num_workers=self.cfg.num_workers,
                          pin_memory=self.device.type == "cuda", drop_last=False)

    def evaluate(self) -> float | None:
        """Mean validation loss; each rank scores its share and the sums are added up."""
        if len(self.val_ds) == 0:
            return None
        for net in self.task.modules.values():
            net.eval()
        total, count = 0.0, 0
        for batch in self._loader(self.val_ds, list(range(self.ranks.rank, len(self.val_ds), self.ranks.world))):
            total += self.task.eval_step(self.val_ds.prepare(batch.to(self.device)))["loss"] * len(batch)
            count += len(batch)
        total, count = self.ranks.sum([total, count])
        return total / count

    def write_samples(self) -> None:
        ds = self.val_ds if len(self.val_ds) else CachedImages(self.train_ds.cache, self.train_ds.indices, self.train_ds.size)
        n = min(self.cfg.samples, len(ds))
        if n == 0 or not self.ranks.main:
            return
        self.task.model.eval()
        batch = ds.prepare(torch.stack([ds[i] for i in range(n)]).to(self.device))
        gray, pred = self.task.predict(batch)
        rundir.save_triptychs(self.run_dir / "samples" / f"epoch_{self.epoch:03d}.png", gray, pred, batch)

    def _end_epoch(self) -> None:
        self._flush()
        val = self.evaluate()
        a = self.accum
        row = {
            "epoch": self.epoch + 1, "step": self.step,
            "train_loss": a["loss"] / max(a["batches"], 1), "val_loss": val,
            "images_per_s": a["images"] / max(a["seconds"], 1e-9),
            "images_seen": self.step * self.global_batch,
            "train_seconds": a["seconds"] + (self.history[-1]["train_seconds"] if self.history else 0.0),
            "lr": self.optimizers["model"].param_groups[0]["lr"], "time": time.time(),
            **{f"train_{key}": value / max(a["batches"], 1) for key, value in a.get("terms", {}).items()},
        }
        self.history.append(row)
        self.epoch += 1
        self.step_in_epoch = 0
        self.accum = {"loss": 0.0, "batches": 0, "images": 0, "seconds": 0.0}
        score = val if val is not None else row["train_loss"]
        if self.best_val is None or score < self.best_val:
            self.best_val = score
            self.save(self.run_dir / ("best_loss.pt" if self.selector else "best.pt"), with_state=False)
        if self.selector and (not self.cfg.select.every or self.step >= self.total_steps):
            self._select()
        self.save_last()
        if self.ranks.main:
            rundir.plot_losses(self.run_dir, self.history)
        self.write_samples()
        val_txt = f"{val:.5f}" if val is not None else "n/a"
        self._info(f"epoch {self.epoch}/{self.epochs} step {self.step}: train loss {row['train_loss']:.5f}, "
                   f"val loss {val_txt}, {row['images_per_s']:.1f} images/s")

    def _select(self) -> None:
        """Rank 0 scores the network by ``select.metric`` (:class:`chromatize.train.selection.Selector`) and
        rewrites ``best.pt`` when it is the best so far; the other ranks wait. Once per step."""
        if self._selected_step == self.step:
            return
        self._selected_step = self.step
        if self.ranks.main:
            record = {"step": self.step, "epoch": self.epoch, "images_seen": self.step * self.global_batch,
                      **self.selector.evaluate(unwrap_model(self.task.model))}
            self.selections.append(record)
            c = self.cfg.select
            if self.selector.best(self.selections) is record:
                self.save(self.run_dir / "best.pt", with_state=False, metrics={**self._summary(), "selection": record},
                          readout={"render_size": c.render_size, "chroma_gain": record["chroma_gain"]})
            rundir.write_metrics(self.run_dir, self.selections, "selection.jsonl")
            best = self.selector.best(self.selections)
            self._info(f"step {self.step}: {c.metric} {record[c.metric]:.4f}, colourfulness {record['cf_ratio']:.2f} x "
                       f"originals' at chroma gain {record['chroma_gain']:g} ({record['photos']} photos, "
                       f"{record['seconds']:.0f} s); best.pt: step {best['step']}")
        self.ranks.barrier()

    def _periodic_checkpoint(self) -> None:
        if not self.ranks.main:
            return
        step_path = self.run_dir / "checkpoints" / f"step_{self.step:08d}.pt"
        self.save(step_path)
        with atomic_path(self.run_dir / "last.pt") as tmp:
            shutil.copyfile(step_path, tmp)
        rundir.write_metrics(self.run_dir, self.history)

    def _out_of_time(self) -> bool:
        """True once the training seconds of this run (all sessions, resumes included) reach ``max_minutes``."""
        if self.cfg.max_minutes <= 0:
            return False
        spent = self.accum["seconds"] + self._pending["seconds"] + (self.history[-1]["train_seconds"] if self.history else 0.0)
        return spent >= self.cfg.max_minutes * 60.0

    def _save_on_interrupt(self) -> None:
        self._flush()
        self.save_last()
        self.ranks.barrier()  # no rank exits (and makes torchrun stop the others) before rank 0 has saved
        if self.ranks.main:
            log.warning(f"interrupted at step {self.step}; saved {self.run_dir / 'last.pt'} "
                        f"(continue with: chromatize train --resume {self.run_dir})")

    def _no_sync(self):
        """Inside an accumulation (not its last micro-batch): DDP keeps the gradients local."""
        stack = contextlib.ExitStack()
        if self.ranks.distributed and not self.stepper.last_micro:
            for key in self.task.modules:
                net = self.task.net(key)
                if hasattr(net, "no_sync"):
                    stack.enter_context(net.no_sync())
        return stack

    def _train_epoch(self, flag: dict, bar) -> bool:
        """Train to the end of this epoch; False when the run must stop early (time budget)."""
        todo = min(self.steps_per_epoch, self.total_steps - self.epoch * self.steps_per_epoch)
        tick = time.perf_counter()
        for batch in self._loader(self.train_ds, self._epoch_indices()):
            generator = self._augment_generator()
            rgb = self.train_ds.prepare(batch.to(self.device, non_blocking=True), generator)
            with self._no_sync(), self.stepper.autocast():
                out = self.task.run_step(rgb, self.stepper, generator)
            self._record(out, len(batch))
            if not self.stepper.finish():
                continue
            for s in self.schedulers.values():
                s.step()
            self.step += 1
            self.step_in_epoch += 1
            now = time.perf_counter()
            self._pending["seconds"] += now - tick
            bar.update(1)
            checkpoint = self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0
            if checkpoint or self.step % self.cfg.log_every == 0:
                self._flush()
                a = self.accum
                bar.set_postfix(loss=f"{a['loss'] / max(a['batches'], 1):.4f}", img_s=f"{a['images'] / max(a['seconds'], 1e-9):.0f}")
            if self.selector and self.cfg.select.every and self.step % self.cfg.select.every == 0:
                self._select()  # before the checkpoint, so a resume from it keeps this evaluation
            if checkpoint:
                self._periodic_checkpoint()
            # Any rank's Ctrl-C stops all; the time budget is rank 0's clock, the one its metrics record.
            budget_spent = self.ranks.main and self._out_of_time()
            stop, out_of_time = (v > 0 for v in self.ranks.sum([float(flag["stop"]), float(budget_spent)]))
            if stop:
                raise KeyboardInterrupt
            if out_of_time:
                self.total_steps = self.step
                return False
            if self.step_in_epoch >= todo:
                break
            tick = time.perf_counter()
        return True

    def fit(self) -> TrainResult:
        """Train until ``total_steps`` (or the time budget); returns the run's :class:`TrainResult`."""
        from tqdm import tqdm

        if self.resumed:
            self._info(f"resuming {self.run_dir} at step {self.step} (epoch {self.epoch + 1})")
        with _deferred_interrupts() as flag:
            try:
                while self.step < self.total_steps:
                    self._set_frozen()
                    todo = min(self.steps_per_epoch, self.total_steps - self.epoch * self.steps_per_epoch)
                    bar = tqdm(total=todo, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{self.epochs}",
                               unit="step", disable=not (self.cfg.progress and self.ranks.main), leave=False)
                    self._train_epoch(flag, bar)
                    bar.close()
                    self._end_epoch()
            except KeyboardInterrupt:
                self._save_on_interrupt()
                raise
            except RuntimeError as e:
                if not flag["stop"] or self.ranks.distributed:
                    raise
                # Ctrl-C also reached the DataLoader workers, which exit; the counters are still consistent
                self._save_on_interrupt()
                raise KeyboardInterrupt from e
            except NonFiniteLossError as e:
                raise TrainingDiverged(
                    f"{e} (epoch {self.epoch + 1}); training stopped. The checkpoints in "
                    f"{self.run_dir} are from the last good state; try a lower optim.lr or another loss."
                ) from e
        return TrainResult(self.run_dir, self.step, self.epoch, self.best_val, self.history)


def _resume_config(run_dir: Path, overrides: list[str]) -> TrainConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml)")
    import yaml

    saved = yaml.safe_load(path.read_text())
    bad = [o for o in overrides if o.partition("=")[0].strip() not in RESUMABLE_KEYS]
    if bad:
        raise ValueError(f"cannot change {', '.join(bad)} when resuming; only {', '.join(RESUMABLE_KEYS)} may change")
    return config_from_dict(apply_overrides(saved, overrides))


def _refuse_going_back(trainer: "Trainer", cfg: TrainConfig, path: Path) -> None:
    """ValueError when a resumed run is already past the epochs (or max_steps) now asked for: nothing would train."""
    if trainer.step <= trainer.total_steps:
        return
    asked = f"max_steps={cfg.max_steps}" if cfg.max_steps > 0 else f"epochs={cfg.epochs}"
    raise ValueError(f"the run in {path} is already at epoch {trainer.epoch} (step {trainer.step}), past the requested "
                     f"{asked}: nothing to train; to train on, ask for more (e.g. --set epochs={trainer.epoch + 1})")


def train(
    config: TrainConfig | str | os.PathLike | None = None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    run_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
) -> TrainResult:
    """Train a model: ``config`` (a :class:`TrainConfig` or a YAML path) with ``key=value`` overrides,
    in ``run_dir`` (default ``runs/<name>-<timestamp>``); or continue the run in ``resume`` from its last.pt.
    Under ``torchrun`` every rank calls this; they share one run directory, which rank 0 writes.

    Raises :class:`TrainingDiverged` on NaN/inf loss; on Ctrl-C saves ``last.pt`` and re-raises.
    """
    overrides = list(overrides)
    if resume is not None:
        path = Path(resume)
        cfg = _resume_config(path, overrides)
    else:
        cfg = config if isinstance(config, TrainConfig) else load_config(config, overrides)
        if isinstance(config, TrainConfig) and overrides:
            cfg = config_from_dict(apply_overrides(config_to_dict(config), overrides))
        path = Path(run_dir) if run_dir is not None else None
        if path is not None and ((path / "last.pt").exists() or (path / "config.yaml").exists()):
            raise FileExistsError(f"{path} already holds a run; continue it with --resume {path} or pick a new --run-dir")
    ranks = setup(cfg.device)
    if not ranks.main:  # under torchrun, rank 0 speaks for the run
        logging.getLogger("chromatize").setLevel(logging.WARNING)
    try:
        trainer = Trainer(cfg, path, ranks)  # loads the data first: a bad folder fails before any directory is made
        if path is None:
            path = ranks.broadcast(rundir.new_run_dir(cfg.run_name) if ranks.main else None)
        trainer.run_dir = path
        resuming = resume is not None and (path / "last.pt").exists()
        if resuming:  # before config.yaml is rewritten: a refused resume changes nothing
            trainer.load(path / "last.pt")
            _refuse_going_back(trainer, cfg, path)
        if ranks.main:
            path.mkdir(parents=True, exist_ok=True)
            rundir.remove_partial_files(path)
            atomic_write_text(path / "config.yaml", dump_config(cfg))
        trainer._info(trainer.describe())  # the run's first line
        if not resuming:
            if resume is not None and ranks.main:
                log.warning(f"{path} has no last.pt yet; starting it from step 0")
            if cfg.init_from:
                grown = init_weights(trainer.task.model, cfg.init_from)
                if grown:
                    trainer._info(f"init_from {cfg.init_from}: {len(grown)} tensors given new input channels (zeros)")
            trainer.task.prepare(trainer.train_ds)
        return trainer.fit()
    finally:
        ranks.close()
