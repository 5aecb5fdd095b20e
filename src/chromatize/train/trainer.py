"""The training loop: data, freezing, steps, validation, checkpoints, resume. It knows nothing of losses.

:class:`Trainer` runs one run to its end (:meth:`Trainer.fit`, returning a :class:`TrainResult`);
:func:`chromatize.train.run.train` sets it up (configuration, run directory, resume, ``init_from``).
The optimisers and schedules come from :mod:`chromatize.train.optim`, the losses are read back by
:class:`chromatize.train.loss_tally.LossTally`. Durability:

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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from chromatize.checkpoint import read_checkpoint, save_checkpoint
from chromatize.data.dataset import CachedImages, folder_datasets
from chromatize.fsutil import atomic_path
from chromatize.registry import unwrap_model
from chromatize.train import rundir
from chromatize.train.config import TrainConfig, config_to_dict
from chromatize.train.distributed import Ranks, epoch_shard, resolve_device
from chromatize.train.interrupts import deferred_interrupts
from chromatize.train.loss_tally import LossTally
from chromatize.train.optim import build_optimizers, build_schedulers, lr_scale, set_frozen
from chromatize.train.selection import Selector
from chromatize.train.step import Stepper, check_amp
from chromatize.train.tasks import NonFiniteLossError, Task, create_task

log = logging.getLogger("chromatize.train")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val: float | None
    history: list[dict]


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
        self.lr_scale = lr_scale(cfg, world)

        self.task: Task = create_task(cfg, self.device)
        self.selector = Selector(cfg.select, cfg.val_data, cfg.data, self.device) if cfg.select.active else None
        if cfg.sync_bn and world > 1:
            self.task.modules = {k: torch.nn.SyncBatchNorm.convert_sync_batchnorm(m) for k, m in self.task.modules.items()}
        self.optimizers = build_optimizers(cfg, self.task.modules, self.lr_scale)
        self.schedulers = build_schedulers(cfg, self.optimizers, self.steps_per_epoch, self.total_steps)
        self.stepper = Stepper(self.optimizers, accumulate=cfg.accumulate, clip_grad_norm=cfg.clip_grad_norm,
                               amp=cfg.amp, device=self.device)
        self.step = self.epoch = self.step_in_epoch = 0
        self.best_val: float | None = None
        self.history: list[dict] = []
        self.selections: list[dict] = []  # select.metric evaluations (rank 0's; saved in the training state)
        self._selected_step = -1
        self.losses = LossTally(self.ranks)  # the epoch's losses, read back every log_every steps
        self.resumed = False
        self._wrapped_for: tuple | None = None

    def info(self, message: str) -> None:
        """Log ``message`` once for the run (on rank 0)."""
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
            "best_val": self.best_val, "history": self.history, "accum": dict(self.losses.totals), "rng": rng,
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
        self.best_val, self.history, self.losses.totals = st["best_val"], list(st["history"]), dict(st["accum"])
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

    # ---- loop --------------------------------------------------------------------------------
    def _set_frozen(self) -> None:
        """Train mode, with the ``freeze`` prefixes frozen during the first ``freeze_epochs``."""
        for net in self.task.modules.values():
            net.train()
        set_frozen(self.task.model, self.cfg.freeze, self.epoch < self.cfg.freeze_epochs and bool(self.cfg.freeze))
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
        self.losses.flush()
        val = self.evaluate()
        row = {
            "epoch": self.epoch + 1, "step": self.step,
            "train_loss": self.losses.mean_loss(), "val_loss": val,
            "images_per_s": self.losses.images_per_second(),
            "images_seen": self.step * self.global_batch,
            "train_seconds": self.losses.totals["seconds"] + (self.history[-1]["train_seconds"] if self.history else 0.0),
            "lr": self.optimizers["model"].param_groups[0]["lr"], "time": time.time(),
            **{f"train_{key}": value for key, value in self.losses.mean_terms().items()},
        }
        self.history.append(row)
        self.epoch += 1
        self.step_in_epoch = 0
        self.losses.new_epoch()
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
        self.info(f"epoch {self.epoch}/{self.epochs} step {self.step}: train loss {row['train_loss']:.5f}, "
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
            self.info(f"step {self.step}: {c.metric} {record[c.metric]:.4f}, colourfulness {record['cf_ratio']:.2f} x "
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
        spent = self.losses.seconds + (self.history[-1]["train_seconds"] if self.history else 0.0)
        return spent >= self.cfg.max_minutes * 60.0

    def _save_on_interrupt(self) -> None:
        self.losses.flush()
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
            self.losses.add(out, len(batch), self.step)
            if not self.stepper.finish():
                continue
            for s in self.schedulers.values():
                s.step()
            self.step += 1
            self.step_in_epoch += 1
            self.losses.add_seconds(time.perf_counter() - tick)
            bar.update(1)
            checkpoint = self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0
            if checkpoint or self.step % self.cfg.log_every == 0:
                self.losses.flush()
                bar.set_postfix(loss=f"{self.losses.mean_loss():.4f}", img_s=f"{self.losses.images_per_second():.0f}")
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
            self.info(f"resuming {self.run_dir} at step {self.step} (epoch {self.epoch + 1})")
        with deferred_interrupts() as flag:
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
