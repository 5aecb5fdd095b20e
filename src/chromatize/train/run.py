"""Starting or resuming a training run: :func:`train`, the public entry point (``chromatize train`` calls it).

It settles the configuration (a YAML file or :class:`TrainConfig` with ``key=value`` overrides, or the saved
``config.yaml`` of the run being resumed, of which only :data:`RESUMABLE_KEYS` may change), joins the
``torchrun`` ranks, picks the run directory, restores ``last.pt`` or starts the network from ``init_from``,
and hands over to :class:`chromatize.train.trainer.Trainer`, the loop.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from chromatize.fsutil import atomic_write_text
from chromatize.train import rundir
from chromatize.train.config import TrainConfig, apply_overrides, config_from_dict, config_to_dict, dump_config, load_config
from chromatize.train.distributed import setup
from chromatize.train.trainer import Trainer, TrainResult
from chromatize.weight_transfer import init_from_checkpoint

log = logging.getLogger("chromatize.train")

#: Settings that may change when resuming; everything else must stay as the run started.
RESUMABLE_KEYS = ("epochs", "max_steps", "max_minutes", "device", "threads", "num_workers", "progress", "checkpoint_every",
                  "samples", "data", "val_data", "cache_dir", "amp", "log_every")


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


def _refuse_going_back(trainer: Trainer, cfg: TrainConfig, path: Path) -> None:
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

    Raises :class:`chromatize.train.trainer.TrainingDiverged` on NaN/inf loss; on Ctrl-C saves ``last.pt`` and re-raises.
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
        trainer.info(trainer.describe())  # the run's first line
        if not resuming:
            if resume is not None and ranks.main:
                log.warning(f"{path} has no last.pt yet; starting it from step 0")
            if cfg.init_from:
                grown = init_from_checkpoint(trainer.task.model, cfg.init_from)
                if grown:
                    trainer.info(f"init_from {cfg.init_from}: {len(grown)} tensors given new input channels (zeros)")
            trainer.task.prepare(trainer.train_ds)
        return trainer.fit()
    finally:
        ranks.close()
