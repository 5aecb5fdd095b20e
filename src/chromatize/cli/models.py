"""``chromatize models``: list the registered architectures and the shipped weights."""

from __future__ import annotations

import argparse

from chromatize.registry import get_spec, list_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list architectures and shipped weights")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chromatize.checkpoint import shipped_weights, weights_header

    print("Architectures (chromatize train: model=NAME):")
    for name in list_models(kind=None):
        spec = get_spec(name)
        kind = "" if spec.kind == "colorizer" else f" [{spec.kind}]"
        print(f"  {name:<16} targets={'/'.join(spec.targets):<8} multiple={spec.size_multiple:<3}{kind} {spec.description}")
    print("Shipped weights (chromatize colorize --model NAME):")
    shipped = shipped_weights()
    if not shipped:
        print("  none")
    for name, path in shipped.items():
        try:
            header = weights_header(path)
        except ValueError as e:
            print(f"  {name:<16} unreadable: {e}")
            continue
        arch = header.get("arch", {})
        kwargs = ", ".join(f"{k}={v}" for k, v in arch.get("kwargs", {}).items())
        metrics = "  ".join(f"{k}={_fmt(v)}" for k, v in header.get("metrics", {}).items()) or "no metrics"
        size_mb = path.stat().st_size / 1e6
        print(f"  {name:<16} {arch.get('name', '?')}({kwargs}) target={arch.get('target', '?')} {size_mb:.1f} MB  {metrics}")
    return 0


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
