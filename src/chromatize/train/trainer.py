"""The generic trainer: data, optimisers, schedules, freezing, checkpoints, resume. It knows nothing of losses.

:func:`train` starts a run (or resumes one) and returns a :class:`TrainResult`. Durability:

- ``last.pt`` (full training state) is written atomically at every epoch end, every ``checkpoint_every``
  steps and on Ctrl-C / SIGTERM, so killing the process at any moment leaves only valid files, and
  ``train(resume=RUN_DIR)`` continues at the same step with the same data order.
- ``metrics.jsonl`` is rewritten from the history stored inside ``last.pt``, so log and checkpoint agree.
- A NaN/inf loss raises :class:`TrainingDiverged` before the weights are touched; the checkpoints on
  disk stay those of the last good state.
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
from chromatize.train import rundir
from chromatize.train.config import TrainConfig, apply_overrides, config_from_dict, config_to_dict, dump_config, load_config
from chromatize.train.tasks import NonFiniteLossError, Task, create_task

log = logging.getLogger("chromatize.train")

#: Settings that may change when resuming; everything else must stay as the run started.
RESUMABLE_KEYS = ("epochs", "max_steps", "device", "threads", "num_workers", "progress", "checkpoint_every", "samples", "data", "cache_dir")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_val: float | None
    history: list[dict]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; otherwise ``torch.device(name)`` (checked)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available (use device=cpu or auto)")
    return device


def _matches(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def build_optimizer(cfg: TrainConfig, named_params: list[tuple[str, torch.nn.Parameter]], freeze: list[str]) -> torch.optim.Optimizer:
    """The configured optimiser; parameters under ``freeze`` prefixes form a group at lr x unfreeze_lr_scale."""
    o = cfg.optim
    frozen = [p for n, p in named_params if _matches(n, freeze)]
    rest = [p for n, p in named_params if not _matches(n, freeze)]
    groups = [g for g in ({"params": rest}, {"params": frozen, "lr": o.lr * cfg.unfreeze_lr_scale}) if g["params"]]
    factories = {
        "adam": lambda: torch.optim.Adam(groups, lr=o.lr, betas=(o.beta1, 0.999), weight_decay=o.weight_decay),
        "adamax": lambda: torch.optim.Adamax(groups, lr=o.lr, betas=(o.beta1, 0.999), weight_decay=o.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay),
        "sgd": lambda: torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay),
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
    """One run in ``run_dir``; call :meth:`fit`."""

    def __init__(self, cfg: TrainConfig, run_dir: Path | None):
        self.cfg, self.run_dir = cfg, run_dir
        if not cfg.data:
            raise ValueError("no training data: set data=FOLDER (in the YAML or with --set data=FOLDER)")
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.train_ds, self.val_ds = folder_datasets(
            cfg.data, cfg.image_size, val_fraction=cfg.val_fraction, val_root=cfg.val_data or None,
            cache_size=cfg.cache_size,
            cache_dir=cfg.cache_dir or None, augment_cfg=cfg.augment, progress=cfg.progress,
        )
        n, bs = len(self.train_ds), cfg.batch_size
        self.batch_size = min(bs, n)
        self.steps_per_epoch = n // self.batch_size
        self.total_steps = cfg.max_steps if cfg.max_steps > 0 else cfg.epochs * self.steps_per_epoch
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)

        self.task: Task = create_task(cfg, self.device)
        named = list(self.task.model.named_parameters())
        if cfg.freeze and not any(_matches(name, cfg.freeze) for name, _ in named):
            raise ValueError(f"freeze prefixes {cfg.freeze} match no parameter of {cfg.model.name!r}")
        self.optimizers = {
            key: build_optimizer(cfg, list(net.named_parameters()), cfg.freeze if key == "model" else [])
            for key, net in self.task.modules.items()
        }
        factor = lr_factor(cfg, self.steps_per_epoch, self.total_steps)
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, factor) for k, o in self.optimizers.items()}
        self.step = self.epoch = self.step_in_epoch = 0
        self.best_val: float | None = None
        self.history: list[dict] = []
        self.accum = {"loss": 0.0, "batches": 0, "images": 0, "seconds": 0.0}

    # ---- state -------------------------------------------------------------------------------
    def training_state(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "step": self.step, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
            "best_val": self.best_val, "history": self.history, "accum": dict(self.accum), "rng": rng,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
        }

    def save(self, path: Path, *, with_state: bool = True, metrics: dict | None = None) -> None:
        extra = {k: m for k, m in self.task.modules.items() if k != "model"}
        save_checkpoint(
            path, self.task.model, config=config_to_dict(self.cfg), metrics=metrics or self._summary(),
            training_state=self.training_state() if with_state else None, extra_models=extra or None,
        )

    def _summary(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {"step": self.step, "epoch": self.epoch, "best_val_loss": self.best_val,
                "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss")}

    def load(self, path: Path) -> None:
        ckpt = read_checkpoint(path, map_location=self.device)
        self.task.model.load_state_dict(ckpt["model_state"])
        for key, entry in (ckpt.get("extra_models") or {}).items():
            self.task.modules[key].load_state_dict(entry["state"])
        st = ckpt["training_state"]
        for k, o in self.optimizers.items():
            o.load_state_dict(st["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(st["schedulers"][k])
        self.step, self.epoch, self.step_in_epoch = st["step"], st["epoch"], st["step_in_epoch"]
        self.best_val, self.history, self.accum = st["best_val"], list(st["history"]), dict(st["accum"])
        torch.set_rng_state(st["rng"]["torch"].cpu())
        if "cuda" in st["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in st["rng"]["cuda"]])

    def save_last(self) -> None:
        self.save(self.run_dir / "last.pt")
        rundir.write_metrics(self.run_dir, self.history)

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

    def _epoch_indices(self) -> list[int]:
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(len(self.train_ds), generator=g)[: self.steps_per_epoch * self.batch_size]
        return perm[self.step_in_epoch * self.batch_size :].tolist()

    def _loader(self, dataset, indices) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, sampler=indices, num_workers=self.cfg.num_workers,
                          pin_memory=self.device.type == "cuda", drop_last=False)

    def evaluate(self) -> float | None:
        if len(self.val_ds) == 0:
            return None
        for net in self.task.modules.values():
            net.eval()
        total, count = 0.0, 0
        for batch in self._loader(self.val_ds, list(range(len(self.val_ds)))):
            total += self.task.eval_step(batch.to(self.device))["loss"] * len(batch)
            count += len(batch)
        return total / count

    def write_samples(self) -> None:
        ds = self.val_ds if len(self.val_ds) else CachedImages(self.train_ds.cache, self.train_ds.indices, self.train_ds.size)
        n = min(self.cfg.samples, len(ds))
        if n == 0:
            return
        self.task.model.eval()
        batch = torch.stack([ds[i] for i in range(n)]).to(self.device)
        gray, pred = self.task.predict(batch)
        rundir.save_triptychs(self.run_dir / "samples" / f"epoch_{self.epoch:03d}.png", gray, pred, batch)

    def _end_epoch(self) -> None:
        val = self.evaluate()
        a = self.accum
        row = {
            "epoch": self.epoch + 1, "step": self.step,
            "train_loss": a["loss"] / max(a["batches"], 1), "val_loss": val,
            "images_per_s": a["images"] / max(a["seconds"], 1e-9),
            "lr": self.optimizers["model"].param_groups[0]["lr"], "time": time.time(),
        }
        self.history.append(row)
        self.epoch += 1
        self.step_in_epoch = 0
        self.accum = {"loss": 0.0, "batches": 0, "images": 0, "seconds": 0.0}
        score = val if val is not None else row["train_loss"]
        if self.best_val is None or score < self.best_val:
            self.best_val = score
            self.save(self.run_dir / "best.pt", with_state=False)
        self.save_last()
        rundir.plot_losses(self.run_dir, self.history)
        self.write_samples()
        val_txt = f"{val:.5f}" if val is not None else "n/a"
        log.info(f"epoch {self.epoch}/{self.epochs} step {self.step}: train loss {row['train_loss']:.5f}, "
                 f"val loss {val_txt}, {row['images_per_s']:.1f} images/s")

    def _periodic_checkpoint(self) -> None:
        step_path = self.run_dir / "checkpoints" / f"step_{self.step:08d}.pt"
        self.save(step_path)
        with atomic_path(self.run_dir / "last.pt") as tmp:
            shutil.copyfile(step_path, tmp)
        rundir.write_metrics(self.run_dir, self.history)

    def fit(self) -> TrainResult:
        from tqdm import tqdm

        log.info(f"run {self.run_dir}: {len(self.train_ds)} train / {len(self.val_ds)} val images, "
                 f"{self.steps_per_epoch} steps per epoch, {self.total_steps} steps, device {self.device}")
        with _deferred_interrupts() as flag:
            try:
                while self.step < self.total_steps:
                    self._set_frozen()
                    todo = min(self.steps_per_epoch, self.total_steps - self.epoch * self.steps_per_epoch)
                    bar = tqdm(total=todo, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{self.epochs}",
                               unit="step", disable=not self.cfg.progress, leave=False)
                    tick = time.perf_counter()
                    for batch in self._loader(self.train_ds, self._epoch_indices()):
                        if self.step_in_epoch >= todo:
                            break
                        out = self.task.train_step(batch.to(self.device, non_blocking=True), self.optimizers)
                        for s in self.schedulers.values():
                            s.step()
                        now = time.perf_counter()
                        self.step += 1
                        self.step_in_epoch += 1
                        a = self.accum
                        a["loss"] += out["loss"]
                        a["batches"] += 1
                        a["images"] += len(batch)
                        a["seconds"] += now - tick
                        bar.update(1)
                        bar.set_postfix(loss=f"{a['loss'] / a['batches']:.4f}", img_s=f"{a['images'] / a['seconds']:.0f}")
                        if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                            self._periodic_checkpoint()
                        if flag["stop"]:
                            raise KeyboardInterrupt
                        tick = time.perf_counter()
                    bar.close()
                    self._end_epoch()
            except KeyboardInterrupt:
                self.save_last()
                log.warning(f"interrupted at step {self.step}; saved {self.run_dir / 'last.pt'} "
                            f"(continue with: chromatize train --resume {self.run_dir})")
                raise
            except NonFiniteLossError as e:
                raise TrainingDiverged(
                    f"{e} at step {self.step + 1} (epoch {self.epoch + 1}); training stopped. The checkpoints in "
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


def train(
    config: TrainConfig | str | os.PathLike | None = None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    run_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
) -> TrainResult:
    """Train a model: ``config`` (a :class:`TrainConfig` or a YAML path) with ``key=value`` overrides,
    in ``run_dir`` (default ``runs/<name>-<timestamp>``); or continue the run in ``resume`` from its last.pt.

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
    trainer = Trainer(cfg, path)  # loads the data first: a bad folder fails before any directory is made
    if path is None:
        path = trainer.run_dir = rundir.new_run_dir(cfg.run_name)
    path.mkdir(parents=True, exist_ok=True)
    rundir.remove_partial_files(path)
    atomic_write_text(path / "config.yaml", dump_config(cfg))
    if resume is not None and (path / "last.pt").exists():
        trainer.load(path / "last.pt")
        log.info(f"resuming {path} at step {trainer.step} (epoch {trainer.epoch + 1})")
    elif resume is not None:
        log.warning(f"{path} has no last.pt yet; starting it from step 0")
    return trainer.fit()
