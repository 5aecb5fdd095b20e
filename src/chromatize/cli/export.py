"""``chromatize export CHECKPOINT.pt OUT.safetensors [--half] [--chroma-gain G]``: shipping weights from a training checkpoint."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a checkpoint's colorizer as .safetensors (optionally fp16)",
        description="Turn a training checkpoint (.pt, e.g. runs/NAME/best.pt) into shipping weights: a .safetensors "
        "file with the colorizer only (no optimizer state, no discriminator) and its self-description (architecture, "
        "config, metrics, readout), loadable with --model PATH. The file is written atomically.",
    )
    p.add_argument("checkpoint", help="training checkpoint (.pt) or .safetensors")
    p.add_argument("out", help="output .safetensors path")
    p.add_argument("--half", action="store_true", help="store weights as float16 (half the size)")
    p.add_argument("--chroma-gain", type=float, default=None, metavar="G",
                   help="record a calibrated chroma gain: colorizing multiplies predicted chroma by G "
                        "(find G with scripts/calibrate_chroma.py)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chromatize.train.export import export_weights

    try:
        path = export_weights(args.checkpoint, args.out, half=args.half, chroma_gain=args.chroma_gain)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
