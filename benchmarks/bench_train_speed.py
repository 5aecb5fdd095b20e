"""Training-step speed (forward + backward + AdamW step) of model families on CPU, as ratios.

Each model takes ``--steps`` timed steps (after ``--warmup``) on random normalised L -> ab batches;
printed: parameters, images/s, and images/s relative to the reference measured in the same run.
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


def images_per_second(model: torch.nn.Module, size: int, batch: int, steps: int, warmup: int) -> float:
    """Training steps per second x batch, on random ``[batch,1,size,size]`` inputs."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    L = torch.rand(batch, 1, size, size) * 2 - 1
    ab = torch.rand(batch, 2, size, size) - 0.5
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(L), ab).backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="*", default=DEFAULT_SPECS)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    known = set(list_models())
    rows = []
    for spec in args.specs:
        name, kwargs, frozen = parse_spec(spec)
        if name not in known:
            print(f"{spec:55s} skipped: {name!r} is not registered on this branch")
            continue
        model = create_model(name, **kwargs)
        for pname, p in model.named_parameters():
            p.requires_grad_(not (frozen and pname.startswith("encoder")))
        params = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        rate = images_per_second(model, args.size, args.batch, args.steps, args.warmup)
        rows.append((spec, params, trainable, rate))
    if not rows:
        raise SystemExit("no registered model among the specs")
    ref_spec, *_, ref_rate = rows[0]
    print(f"train step, {args.size} px, batch {args.batch}, {args.threads} threads; ratio vs {ref_spec}")
    print(f"{'model':55s} {'params':>10s} {'trainable':>10s} {'img/s':>8s} {'ratio':>6s}")
    for spec, params, trainable, rate in rows:
        print(f"{spec:55s} {params:10,d} {trainable:10,d} {rate:8.2f} {rate / ref_rate:6.2f}")


if __name__ == "__main__":
    main()
