"""``chromatize models``: list the registered architectures and the shipped weights."""

from __future__ import annotations

import argparse

from chromatize.registry import get_spec, list_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list architectures and shipped weights")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("Architectures (chromatize train: model=NAME):")
    for name in list_models(kind=None):
        spec = get_spec(name)
        kind = "" if spec.kind == "colorizer" else f" [{spec.kind}]"
        print(f"  {name:<16} targets={'/'.join(spec.targets):<8} multiple={spec.size_multiple:<3}{kind} {spec.description}")
    return 0
