"""The trainer's training-step throughput against a bare loop over the same cache, in the same run.

The bare loop is what a training script without a trainer does: a shuffled DataLoader over the cached
squares, batched augmentation, Lab split, forward, loss, ``zero_grad``/``backward``/``step``. The trainer
runs the same recipe through :func:`chromatize.train.train` for a few epochs; its images/s counts only
training steps (as ``metrics.jsonl`` does); the time outside them is the per-epoch overhead (validation,
samples, loss plot, checkpoints), reported by part. Repeats are interleaved; medians are printed. Example:

    PYTHONPATH=src python benchmarks/bench_trainer.py configs/baseline.yaml --threads 2
    PYTHONPATH=src python benchmarks/bench_trainer.py configs/default.yaml --threads 2 \\
        --set model.args.pretrained=false --set image_size=128 --photos 96
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict

import torch


def bare_loop(cfg, steps: int) -> dict[str, float]:
    """images/s of a plain loop (and seconds per step spent fetching, augmenting, stepping)."""
    from torch.utils.data import DataLoader, RandomSampler

    from chromatize.data.dataset import folder_datasets
    from chromatize.train.tasks import create_task
    from chromatize.train.trainer import _matches, build_optimizer

    torch.manual_seed(cfg.seed)
    train_ds, _ = folder_datasets(cfg.data, cfg.image_size, val_fraction=cfg.val_fraction, cache_size=cfg.cache_size,
                                  cache_dir=cfg.cache_dir, augment_cfg=cfg.augment, progress=False)
    task = create_task(cfg, torch.device("cpu"))
    model, criterion = task.model.train(), task.criterion
    frozen = cfg.freeze if cfg.freeze_epochs > 0 else []  # as the trainer's first epochs: no grad, BatchNorm in eval
    for name, param in model.named_parameters():
        param.requires_grad_(not _matches(name, frozen))
    for name, module in model.named_modules():
        if _matches(name, frozen):
            module.eval()
    opt = build_optimizer(cfg, list(model.named_parameters()), cfg.freeze)
    sampler = RandomSampler(train_ds, replacement=True, num_samples=cfg.batch_size * (steps + 2))
    loader = iter(DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler))
    parts = defaultdict(float)
    for i in range(steps + 2):  # 2 warm-up steps
        t0 = time.perf_counter()
        batch = next(loader)
        t1 = time.perf_counter()
        rgb = train_ds.prepare(batch)
        t2 = time.perf_counter()
        L, target = task.split(rgb)
        loss = criterion(model(L), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:
            parts["fetch"] += t1 - t0
            parts["augment"] += t2 - t1
            parts["step"] += t3 - t2
    total = sum(parts.values())
    return {"images_per_s": steps * cfg.batch_size / total, **{k: v / steps for k, v in parts.items()}}


def trainer_run(cfg, run_dir) -> dict[str, float]:
    """The trainer's training-step images/s (epochs after the first) and its per-epoch overhead by part."""
    from chromatize.train import rundir, trainer

    spent = defaultdict(float)
    originals = {}

    def timed(owner, name, label):
        original = getattr(owner, name)
        originals[(owner, name)] = original

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t

        setattr(owner, name, wrapper)

    timed(trainer.Trainer, "_end_epoch", "epoch end")
    timed(trainer.Trainer, "evaluate", "validation")
    timed(trainer.Trainer, "write_samples", "samples")
    timed(trainer.Trainer, "save", "checkpoints")
    timed(rundir, "plot_losses", "loss plot")
    timed(rundir, "write_metrics", "metrics.jsonl")
    try:
        start = time.perf_counter()
        result = trainer.train(cfg, run_dir=run_dir)
        wall = time.perf_counter() - start
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)
    h = result.history
    first = h[0] if len(h) > 1 else {"images_seen": 0, "train_seconds": 0.0}  # epoch 1 holds the warm-up
    images, seconds = h[-1]["images_seen"] - first["images_seen"], h[-1]["train_seconds"] - first["train_seconds"]
    epochs = len(result.history)
    startup = wall - result.history[-1]["train_seconds"] - spent["epoch end"]
    return {"images_per_s": images / seconds, "startup": startup, "epochs": epochs,
            "steps_per_epoch": result.step // epochs, **{k: v / epochs for k, v in spent.items()}}


def main() -> None:
    from chromatize.data.synthetic import write_synthetic_folder
    from chromatize.train.config import load_config

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--photos", type=int, default=160, help="synthetic photos (about 90%% train, 10%% val)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        probe = load_config(args.config, [f"data={tmp}/photos", *args.overrides])
        write_synthetic_folder(f"{tmp}/photos", args.photos, max(160, probe.cache_size or probe.image_size * 5 // 4))
        base = [f"data={tmp}/photos", f"cache_dir={tmp}/cache", "progress=false", f"threads={args.threads}",
                f"epochs={args.epochs}", "val_data=", "init_from=", "max_minutes=0", "checkpoint_every=0", *args.overrides]
        cfg = load_config(args.config, base)
        from chromatize.data.dataset import folder_datasets

        folder_datasets(cfg.data, cfg.image_size, cache_size=cfg.cache_size, cache_dir=cfg.cache_dir, progress=False)
        bare, mine = [], []
        for r in range(args.repeats):
            mine.append(trainer_run(cfg, f"{tmp}/run{r}"))
            steps = mine[-1]["steps_per_epoch"] * (mine[-1]["epochs"] - 1) or mine[-1]["steps_per_epoch"]
            bare.append(bare_loop(cfg, steps))
    med = lambda rows, k: statistics.median(row[k] for row in rows)  # noqa: E731
    b, t = med(bare, "images_per_s"), med(mine, "images_per_s")
    print(f"{cfg.model.name} {cfg.image_size}px batch {cfg.batch_size}, {args.threads} threads, "
          f"{mine[0]['steps_per_epoch']} steps per epoch, {args.repeats} interleaved repeats (median)")
    print(f"  bare loop      : {b:7.1f} images/s  (per step: fetch {med(bare, 'fetch') * 1e3:.1f} ms, "
          f"augment {med(bare, 'augment') * 1e3:.1f} ms, forward+backward+step {med(bare, 'step') * 1e3:.1f} ms)")
    print(f"  trainer steps  : {t:7.1f} images/s  = {t / b:.1%} of the bare loop")
    parts = ", ".join(f"{k} {med(mine, k):.2f} s" for k in ("validation", "samples", "checkpoints", "loss plot", "metrics.jsonl")
                      if k in mine[0])
    print(f"  epoch overhead : {med(mine, 'epoch end'):.2f} s per epoch ({parts}); start-up {med(mine, 'startup'):.2f} s per run")


if __name__ == "__main__":
    main()
