"""Training-step speed (forward + backward + AdamW step) of model families on CPU, as ratios.

Each model takes ``--warmup`` steps, then ``--rounds`` rounds of ``--steps`` timed steps, the models taking
turns, on a fixed random normalised L -> ab batch; printed: parameters, the best round's images/s, and that
relative to the reference (the first spec) measured in the same run.
A spec is ``name`` or ``name:key=value,key=value``; ``+frozen`` freezes the ``encoder`` parameters
(a warm-up epoch). Families that are not registered are listed and skipped.

    nice -n 10 python benchmarks/bench_train_speed.py            # 128 px, batch 8, 2 threads
"""

from __future__ import annotations

import argparse
import ast
import time

import torch

from chromatize.registry import create_model, list_models

DEFAULT_SPECS = [
    "unet:base=16",
    "unet:base=32",
    "mobilenet_unet",
    "mobilenet_unet+frozen",
    "mobilenet_unet_small",
    "mobilenet_unet_small+frozen",
]


def parse_spec(spec: str) -> tuple[str, dict, bool]:
    """``"name:k=v,k=v+frozen"`` -> (name, kwargs, frozen); values are Python literals."""
    frozen = spec.endswith("+frozen")
    name, _, args = spec.removesuffix("+frozen").partition(":")
    call = ast.parse(f"f({args})", mode="eval").body
    return name, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}, frozen


class TrainStep:
    """One model's training step (forward, MSE, backward, AdamW) on a fixed random batch."""

    def __init__(self, model: torch.nn.Module, size: int, batch: int):
        self.model = model.train()
        self.opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        self.L = torch.rand(batch, 1, size, size) * 2 - 1
        self.ab = torch.rand(batch, 2, size, size) - 0.5

    def images_per_second(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            self.opt.zero_grad(set_to_none=True)
            torch.nn.functional.mse_loss(self.model(self.L), self.ab).backward()
            self.opt.step()
        return steps * len(self.L) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="*", default=DEFAULT_SPECS)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    known = set(list_models())
    runs = {}
    for spec in args.specs:
        name, kwargs, frozen = parse_spec(spec)
        if name not in known:
            print(f"{spec:55s} skipped: {name!r} is not registered on this branch")
            continue
        model = create_model(name, **kwargs)
        for pname, p in model.named_parameters():
            p.requires_grad_(not (frozen and pname.startswith("encoder")))
        runs[spec] = TrainStep(model, args.size, args.batch)
        if frozen:  # as the trainer does: frozen BatchNorm keeps its statistics
            model.encoder.eval()
        runs[spec].images_per_second(args.warmup)
    # Round-robin rounds, best round per model: other load on a shared machine slows every model alike.
    best = {spec: 0.0 for spec in runs}
    for _ in range(args.rounds):
        for spec, run in runs.items():
            best[spec] = max(best[spec], run.images_per_second(args.steps))
    rows = []
    for spec, run in runs.items():
        params = sum(p.numel() for p in run.model.parameters())
        trainable = sum(p.numel() for p in run.model.parameters() if p.requires_grad)
        rows.append((spec, params, trainable, best[spec]))
    if not rows:
        raise SystemExit("no registered model among the specs")
    ref_spec, *_, ref_rate = rows[0]
    print(f"train step, {args.size} px, batch {args.batch}, {args.threads} threads; ratio vs {ref_spec}")
    print(f"{'model':55s} {'params':>10s} {'trainable':>10s} {'img/s':>8s} {'ratio':>6s}")
    for spec, params, trainable, rate in rows:
        print(f"{spec:55s} {params:10,d} {trainable:10,d} {rate:8.2f} {rate / ref_rate:6.2f}")


if __name__ == "__main__":
    main()
