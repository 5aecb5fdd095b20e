"""``chromatize`` command line: one small module per subcommand, each calling one library function.

A subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` (the exit code) as its default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from chromatize import __version__

#: Subcommand modules under ``chromatize.cli``, in help order.
COMMANDS = ["models", "colorize", "video", "train", "export", "evaluate", "serve"]


def add_device_arguments(p: argparse.ArgumentParser, *, device: bool = True) -> None:
    """``--device`` and ``--backend``, as every command that runs a model offers them."""
    from chromatize.inference import BACKENDS

    if device:
        p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default: %(default)s)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="run the network with PyTorch or ONNX Runtime (default auto: ONNX Runtime on the CPU when "
                        "installed, it is faster; a checkpoint is exported to ONNX once, into ~/.cache/chromatize/onnx)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chromatize", description="Colorize black-and-white photographs.")
    parser.add_argument("--version", action="version", version=f"chromatize {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"chromatize.cli.{name}").register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on the command line: one line each, without the source file and line of the library."""
    print(f"warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chromatize`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        # Pillow's notes about a damaged file's metadata: the file is reported (read, or failed in one line) anyway
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
