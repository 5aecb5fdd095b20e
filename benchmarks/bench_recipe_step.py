"""Training-step cost of the three recipes of issue 5 on one backbone, as ratios to L1 regression.

Each recipe's task (``regression`` with L1, ``classification`` over 262 ab bins with the logits at
``1/scale`` size (``classification/SCALE``), ``pix2pix`` with a PatchGAN of ``base`` channels, ``gan/D<base>``)
runs full training steps (loss, backward, optimiser) on the same batch of synthetic sRGB images; the
recipes take turns for ``--rounds`` rounds of ``--steps`` steps after a warm-up, and the best round counts.
Equal CPU budgets in the comparison mean equal seconds, so a slower step means fewer images seen.

    nice -n 10 python benchmarks/bench_recipe_step.py --backbone mobilenet_unet --size 128 --batch 16 --threads 2 --scales 1 2 4 --disc-bases 64 32
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from chromatize.color import rgb_to_l_ab
from chromatize.data.synthetic import synthetic_image
from chromatize.quantize import bin_counts
from chromatize.train.config import load_config
from chromatize.train.step import Stepper
from chromatize.train.tasks import create_task


def recipes(backbone: str, scales: list[int], disc_bases: list[int]) -> dict[str, list[str]]:
    classify = {f"classification/{s}": ["task=classification", "model.name=classifier",
                                        f"model.args={{backbone: {backbone}, scale: {s}}}"] for s in scales}
    gan = {f"gan/D{b}": ["task=pix2pix", f"model.name={backbone}", f"discriminator.args={{base: {b}}}"] for b in disc_bases}
    return {"l1": ["task=regression", "loss.name=l1", f"model.name={backbone}"], **classify, **gan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backbone", default="mobilenet_unet")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scales", type=int, nargs="+", default=[4], help="classifier scales (logits at 1/scale size)")
    ap.add_argument("--disc-bases", type=int, nargs="+", default=[64], help="PatchGAN widths (gan/D<base>)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(np.stack([synthetic_image(rng, args.size) for _ in range(args.batch)])).permute(0, 3, 1, 2).float() / 255
    runs = {}
    for name, overrides in recipes(args.backbone, args.scales, args.disc_bases).items():
        task = create_task(load_config(None, overrides), torch.device("cpu"))
        if name.startswith("classification"):
            task.model.prior.copy_(bin_counts(rgb_to_l_ab(rgb)[1], task.model.bin_centers))
        optimizers = Stepper({k: torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.5, 0.999)) for k, m in task.modules.items()})
        for m in task.modules.values():
            m.train()
        task.train_step(rgb, optimizers)  # warm-up
        runs[name] = (task, optimizers)
    best = dict.fromkeys(runs, 0.0)
    for _ in range(args.rounds):
        for name, (task, optimizers) in runs.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                task.train_step(rgb, optimizers)
            best[name] = max(best[name], args.steps * args.batch / (time.perf_counter() - start))
    print(f"{args.backbone}, {args.size} px, batch {args.batch}, {args.threads} threads")
    print(f"{'recipe':<18}{'images/s':>10}{'vs l1':>8}")
    for name, ips in best.items():
        print(f"{name:<18}{ips:>10.1f}{ips / best['l1']:>8.2f}")


if __name__ == "__main__":
    main()
