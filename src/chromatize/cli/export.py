"""``chromatize export MODEL OUT``: shipping weights (.safetensors, optionally fp16) or an ONNX model (.onnx)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a model as shipping .safetensors weights or as ONNX",
        description="Write the colorizer of MODEL (a training checkpoint, .safetensors weights or a shipped name "
        "such as 'default') to OUT: .safetensors weights (optionally fp16) or an .onnx model with dynamic batch, "
        "height and width for ONNX Runtime. The settings given are recorded in the file.",
    )
    p.add_argument("model", metavar="MODEL", help="checkpoint (.pt / .safetensors) or shipped model name")
    p.add_argument("out", metavar="OUT", help="output path: .safetensors or .onnx")
    p.add_argument("--half", action="store_true", help="store weights as float16 (half the size; .safetensors only)")
    p.add_argument("--chroma-gain", type=float, default=None, metavar="G",
                   help="record a calibrated chroma gain: colorizing multiplies predicted chroma by G "
                        "(find G with scripts/calibrate_chroma.py)")
    p.add_argument("--render-size", type=int, default=None, metavar="N",
                   help="record the long side at which the network should see photos")
    p.add_argument("--border", type=int, default=None, metavar="N",
                   help="record the mirrored border, in pixels, the network sees around a photo")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="record test-time flip averaging: each prediction averaged with that of the mirrored photo")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chromatize.checkpoint import resolve_weights
    from chromatize.train.export import export_weights

    settings = {"chroma_gain": args.chroma_gain, "render_size": args.render_size, "border": args.border, "flip": args.flip}
    try:
        if Path(args.out).suffix == ".onnx":
            from chromatize.inference.onnx import export_onnx

            if args.half:
                raise ValueError("--half applies to .safetensors exports only")
            if Path(args.out).resolve() == resolve_weights(args.model).resolve():
                raise ValueError("export would overwrite its input; choose another output path")
            path = export_onnx(args.model, args.out, **settings)
        else:
            path = export_weights(resolve_weights(args.model), args.out, half=args.half, **settings)
    except (ValueError, FileNotFoundError) as e:
        print(f"chromatize export: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
