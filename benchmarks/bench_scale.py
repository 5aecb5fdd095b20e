"""Images/s per CPU core: training under torchrun (gloo) and sharded colorization, against one process.

Training: the same recipe for ``--steps`` steps as 1 process x 1 thread, 1 process x N threads and
N torchrun ranks x 1 thread (same global batch), reading the trainer's training-step images/s from
``metrics.jsonl``. Colorization: ``chromatize colorize`` over generated photos as 1 process x N threads and
as N shards x 1 thread run at once (wall time, model loading included). Example (what docs/SCALE.md shows):

    PYTHONPATH=src python benchmarks/bench_scale.py --cores 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")
RECIPE = str(Path(__file__).resolve().parent.parent / "configs" / "baseline.yaml")


def _env(threads: int) -> dict:
    return dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS=str(threads))


def train_rate(tmp: str, name: str, procs: int, threads: int, batch: int, steps: int, extra: list[str]) -> float:
    """Training-step images/s of one run (epochs after the first)."""
    from chromatize.train.rundir import read_metrics

    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs > 1 \
        else [sys.executable]
    sets = [f"data={tmp}/photos", f"cache_dir={tmp}/cache", f"batch_size={batch // procs}", f"threads={threads}",
            f"max_steps={steps}", "progress=false", "samples=0", "val_fraction=0.05", "epoch_size=0", *extra]
    cmd = [*launcher, "-m", "chromatize", "train", RECIPE, "--run-dir", f"{tmp}/{name}", *[a for s in sets for a in ("--set", s)]]
    subprocess.run(cmd, env=_env(threads), check=True, capture_output=True)
    h = read_metrics(f"{tmp}/{name}")
    first = h[0] if len(h) > 1 else {"images_seen": 0, "train_seconds": 0.0}
    return (h[-1]["images_seen"] - first["images_seen"]) / (h[-1]["train_seconds"] - first["train_seconds"])


def colorize_rate(tmp: str, name: str, shards: int, threads: int, photos: int) -> float:
    """Images/s of colorizing the gray folder with ``shards`` processes at once (wall time)."""
    procs, start = [], time.perf_counter()
    for i in range(shards):
        cmd = [sys.executable, "-m", "chromatize", "colorize", f"{tmp}/gray", "-o", f"{tmp}/{name}", "-q",
               *(["--shard", f"{i}/{shards}"] if shards > 1 else [])]
        procs.append(subprocess.Popen(cmd, env=_env(threads), stdout=subprocess.DEVNULL))
    if any([p.wait() for p in procs]):
        raise SystemExit(f"colorize failed ({name})")
    return photos / (time.perf_counter() - start)


def main() -> None:
    from PIL import Image

    from chromatize.data.synthetic import write_synthetic_folder

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=16, help="global batch (split over the ranks)")
    p.add_argument("--photos", type=int, default=24, help="photos to colorize (512 px)")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    n = args.cores
    with tempfile.TemporaryDirectory() as tmp:
        write_synthetic_folder(f"{tmp}/photos", 200, 96)
        write_synthetic_folder(f"{tmp}/color", args.photos, 512, seed=5)
        os.makedirs(f"{tmp}/gray")
        for i, path in enumerate(sorted(p for p in Path(f"{tmp}/color").rglob("*") if p.is_file())):
            Image.open(path).convert("L").save(f"{tmp}/gray/{i:04d}.png")
        train_rate(tmp, "warm", 1, n, args.batch, 2, args.overrides)  # builds the cache
        runs = [("1 process x 1 thread", 1, 1), (f"1 process x {n} threads", 1, n), (f"{n} ranks x 1 thread", n, 1)]
        print(f"baseline training, global batch {args.batch}, {args.steps} steps ({' '.join(args.overrides)})")
        for i, (label, procs, threads) in enumerate(runs):
            rate = train_rate(tmp, f"t{i}", procs, threads, args.batch, args.steps, args.overrides)
            print(f"  {label:<24}: {rate:7.1f} images/s = {rate / (procs * threads):6.1f} per core")
        print(f"colorize (shipped default model), {args.photos} photos of 512 px, wall time")
        for i, (label, shards, threads) in enumerate([(f"1 process x {n} threads", 1, n), (f"{n} shards x 1 thread", n, 1)]):
            rate = colorize_rate(tmp, f"c{i}", shards, threads, args.photos)
            print(f"  {label:<24}: {rate:7.2f} images/s = {rate / n:6.2f} per core")


if __name__ == "__main__":
    main()
