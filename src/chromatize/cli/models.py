"""``chromatize models``: list the registered architectures and the shipped weights."""

from __future__ import annotations

import argparse

from chromatize.registry import get_spec, list_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list architectures and shipped weights",
        description="List the registered network architectures (names for `chromatize train --set model.name=NAME`) "
        "and the weights shipped with this install (names for `chromatize colorize --model NAME` and "
        "`chromatize serve --model NAME`), with their size and recorded metrics.",
    )
    p.set_defaults(func=run)


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows of cells -> lines with every column but the last padded to its widest cell."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [indent + "  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip() for r in rows]


def run(args: argparse.Namespace) -> int:
    from chromatize.checkpoint import shipped_weights, weights_header

    print("Architectures (chromatize train: model=NAME):")
    rows = []
    for name in list_models(kind=None):
        spec = get_spec(name)
        kind = "" if spec.kind == "colorizer" else f"[{spec.kind}] "
        rows.append([name, f"targets={'/'.join(spec.targets)}", f"multiple={spec.size_multiple}", kind + spec.description])
    for line in _table(rows):
        print(line)
    print("Shipped weights (chromatize colorize --model NAME):")
    shipped = shipped_weights()
    if not shipped:
        print("  none")
    rows = []
    for name, path in shipped.items():
        try:
            header = weights_header(path)
        except ValueError as e:
            rows.append([name, "unreadable", "", "", "", str(e)])
            continue
        arch = header.get("arch", {})
        kwargs = ", ".join(f"{k}={v}" for k, v in arch.get("kwargs", {}).items())
        metrics = "  ".join(f"{k}={_fmt(v)}" for k, v in header.get("metrics", {}).items()) or "no metrics"
        size_mb = path.stat().st_size / 1e6
        takes = "+".join(arch.get("inputs", ["L"]))
        rows.append([name, f"{arch.get('name', '?')}({kwargs})", f"target={arch.get('target', '?')}", f"inputs={takes}",
                     f"{size_mb:.1f} MB", metrics])
    for line in _table(rows):
        print(line)
    return 0


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
