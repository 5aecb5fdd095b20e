"""Training throughput (images/s) of one recipe, measured in-process on synthetic data.

Times the whole training step (Lab conversion, forward, loss, backward, optimiser) on cached, augmented
batches, and compares memory formats in the same run (interleaved repeats, median). Example:

    PYTHONPATH=src python benchmarks/train_speed.py configs/baseline.yaml --threads 2 --steps 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch


def images_per_second(cfg, batches, steps: int) -> float:
    from chromatize.train.tasks import create_task
    from chromatize.train.step import Stepper
    from chromatize.train.optim import build_optimizer

    task = create_task(cfg, torch.device("cpu"))
    optimizers = Stepper({k: build_optimizer(cfg, list(m.named_parameters()), []) for k, m in task.modules.items()})
    task.train_step(batches[0], optimizers)  # warm-up
    start = time.perf_counter()
    for i in range(steps):
        task.train_step(batches[i % len(batches)], optimizers)
    return steps * len(batches[0]) / (time.perf_counter() - start)


def main() -> None:
    from chromatize.data.dataset import folder_datasets
    from chromatize.data.synthetic import write_synthetic_folder
    from chromatize.train.config import load_config

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_folder(f"{tmp}/photos", 64, 96)
        base = [f"data={tmp}/photos", f"cache_dir={tmp}/cache", "progress=false", *args.overrides]
        cfg = load_config(args.config, base)
        train_ds, _ = folder_datasets(cfg.data, cfg.image_size, val_fraction=0.0, cache_dir=cfg.cache_dir,
                                      augment_cfg=cfg.augment, progress=False)
        start = time.perf_counter()
        items = [train_ds[i % len(train_ds)] for i in range(cfg.batch_size * 4)]
        batches = [train_ds.prepare(torch.stack(items[i : i + cfg.batch_size])) for i in range(0, len(items), cfg.batch_size)]
        data_rate = len(items) / (time.perf_counter() - start)
        results: dict[str, list[float]] = {"contiguous": [], "channels_last": []}
        for _ in range(args.repeats):
            for fmt in results:
                variant = load_config(args.config, base + [f"channels_last={fmt == 'channels_last'}"])
                results[fmt].append(images_per_second(variant, batches, args.steps))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{cfg.model.name} {cfg.image_size}px batch {cfg.batch_size}, {args.threads} threads")
    print(f"  data pipeline (cache + augmentation): {data_rate:.0f} images/s")
    for k, v in med.items():
        print(f"  train step, {k:<13}: {v:.1f} images/s")
    print(f"  channels_last / contiguous: {med['channels_last'] / med['contiguous']:.2f}x")


if __name__ == "__main__":
    main()
