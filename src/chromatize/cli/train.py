"""``chromatize train CONFIG.yaml [--set key=value ...] [--resume RUN_DIR] [--run-dir DIR]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a colorization model from a YAML recipe",
        description="Train a model on a folder of colour photographs. Examples:\n"
        "  chromatize train configs/unet.yaml --set data=photos/ --set epochs=5\n"
        "  chromatize train --resume runs/unet-20260101-120000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", help="YAML recipe (configs/*.yaml); not needed with --resume")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=3e-4 --set augment.hflip=false (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    p.add_argument("--run-dir", metavar="DIR", help="directory for this run (default runs/<name>-<timestamp>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chromatize.train.run import train
    from chromatize.train.trainer import TrainingDiverged

    if (args.config is None) == (args.resume is None):
        print("chromatize train: error: give a CONFIG.yaml to start a run, or --resume RUN_DIR to continue one",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = train(args.config, overrides=args.overrides, run_dir=args.run_dir, resume=args.resume)
    except TrainingDiverged as e:  # the run failed; the command was right
        print(f"chromatize train: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, FileNotFoundError, FileExistsError) as e:  # a usage error, as for every command
        print(f"chromatize train: error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        print(f"done: {result.step} steps, best loss {result.best_val}, run directory {result.run_dir}")
    return 0
