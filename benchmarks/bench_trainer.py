"""The trainer's training-step throughput against a bare loop over the same cache, in the same run.

The bare loop is what a training script without a trainer does: a shuffled DataLoader over the cached
squares, batched augmentation, Lab split, forward, loss, ``zero_grad``/``backward``/``step``. The trainer
runs the same recipe through :func:`chromatize.train.run.train` for a few epochs; its images/s counts only
training steps (as ``metrics.jsonl`` does); the time outside them is the per-epoch overhead (validation,
samples, loss plot, checkpoints), reported by part. After each trainer epoch (from the second) the bare
loop runs as many steps in the same process, so both see the same machine load; the first epoch is the
warm-up of both. Medians over repeats are printed. Example:

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


class BareLoop:
    """A plain training loop over the same cache: ``run(steps)`` adds to its timings (fetch, augment, step)."""

    def __init__(self, cfg):
        from torch.utils.data import DataLoader, RandomSampler

        from chromatize.data.dataset import folder_datasets
        from chromatize.train.optim import build_optimizer, set_frozen
        from chromatize.train.tasks import create_task

        torch.manual_seed(cfg.seed + 1)
        self.ds, _ = folder_datasets(cfg.data, cfg.image_size, val_fraction=cfg.val_fraction, cache_size=cfg.cache_size,
                                     cache_dir=cfg.cache_dir, augment_cfg=cfg.augment, progress=False)
        self.task = create_task(cfg, torch.device("cpu"))
        self.model, self.batch_size = self.task.model.train(), cfg.batch_size
        set_frozen(self.model, cfg.freeze, cfg.freeze_epochs > 0)  # as the trainer's first epochs: no grad, BatchNorm in eval
        self.opt = build_optimizer(cfg, list(self.model.named_parameters()), cfg.freeze)
        sampler = RandomSampler(self.ds, replacement=True, num_samples=10**9)
        self.loader = iter(DataLoader(self.ds, batch_size=cfg.batch_size, sampler=sampler))
        self.parts, self.steps = defaultdict(float), 0
        self.run(2, record=False)  # warm-up

    def run(self, steps: int, record: bool = True) -> None:
        for _ in range(steps):
            t0 = time.perf_counter()
            batch = next(self.loader)
            t1 = time.perf_counter()
            rgb = self.ds.prepare(batch)
            t2 = time.perf_counter()
            L, target = self.task.split(rgb)
            loss = self.task.criterion(self.model(L), target)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            t3 = time.perf_counter()
            if record:
                self.parts["fetch"] += t1 - t0
                self.parts["augment"] += t2 - t1
                self.parts["step"] += t3 - t2
                self.steps += 1

    def result(self) -> dict[str, float]:
        total = sum(self.parts.values())
        return {"images_per_s": self.steps * self.batch_size / total, **{k: v / self.steps for k, v in self.parts.items()}}


def interleaved_run(cfg, run_dir) -> tuple[dict[str, float], dict[str, float]]:
    """Train with the trainer; after each of its epochs from the second on, the bare loop runs as many
    steps, so both see the same machine load. Returns (trainer figures, bare-loop figures)."""
    from chromatize.train import rundir, trainer
    from chromatize.train.run import train

    bare = BareLoop(cfg)
    spent, originals = defaultdict(float), {}

    def timed(owner, name, label, after=None):
        original = getattr(owner, name)
        originals[(owner, name)] = original

        def wrapper(self_or_first, *args, **kwargs):
            t = time.perf_counter()
            try:
                return original(self_or_first, *args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t
                if after is not None:
                    after(self_or_first)

        setattr(owner, name, wrapper)

    def bare_epoch(tr):
        if tr.epoch >= 2:  # epoch 1 holds the trainer's warm-up; not timed on either side
            bare.run(tr.steps_per_epoch)

    timed(trainer.Trainer, "_end_epoch", "epoch end", after=bare_epoch)
    timed(trainer.Trainer, "evaluate", "validation")
    timed(trainer.Trainer, "write_samples", "samples")
    timed(trainer.Trainer, "save", "checkpoints")
    timed(rundir, "plot_losses", "loss plot")
    timed(rundir, "write_metrics", "metrics.jsonl")
    try:
        result = train(cfg, run_dir=run_dir)
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)
    h = result.history
    first = h[0] if len(h) > 1 else {"images_seen": 0, "train_seconds": 0.0}
    images, seconds = h[-1]["images_seen"] - first["images_seen"], h[-1]["train_seconds"] - first["train_seconds"]
    epochs = len(h)
    mine = {"images_per_s": images / seconds, "epochs": epochs, "steps_per_epoch": result.step // epochs,
            **{k: v / epochs for k, v in spent.items()}}
    return mine, bare.result()


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
            t, b = interleaved_run(cfg, f"{tmp}/run{r}")
            mine.append(t)
            bare.append(b)
    med = lambda rows, k: statistics.median(row[k] for row in rows)  # noqa: E731
    b, t = med(bare, "images_per_s"), med(mine, "images_per_s")
    print(f"{cfg.model.name} {cfg.image_size}px batch {cfg.batch_size}, {args.threads} threads, "
          f"{mine[0]['steps_per_epoch']} steps per epoch, {args.repeats} interleaved repeats (median)")
    print(f"  bare loop      : {b:7.1f} images/s  (per step: fetch {med(bare, 'fetch') * 1e3:.1f} ms, "
          f"augment {med(bare, 'augment') * 1e3:.1f} ms, forward+backward+step {med(bare, 'step') * 1e3:.1f} ms)")
    print(f"  trainer steps  : {t:7.1f} images/s  = {t / b:.1%} of the bare loop")
    parts = ", ".join(f"{k} {med(mine, k):.2f} s" for k in ("validation", "samples", "checkpoints", "loss plot", "metrics.jsonl")
                      if k in mine[0])
    print(f"  epoch overhead : {med(mine, 'epoch end'):.2f} s per epoch ({parts})")


if __name__ == "__main__":
    main()
