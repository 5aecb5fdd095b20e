"""``chromatize colorize INPUT... [-o OUT]``: colorize photos and folders of photos."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from chromatize.cli import add_device_arguments
from chromatize.io import DEFAULT_MAX_PIXELS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "colorize",
        help="colorize photos (files or folders)",
        description="Colorize black-and-white photos at their full resolution. Without -o, each result is "
        "written beside its input as NAME_color.EXT; inputs are never overwritten.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--output", metavar="OUT", help="output file (one input) or folder (mirrors the input tree)")
    p.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="shipped model name (see `chromatize models`) or checkpoint path (default: default, or "
                        "hints with --hint/--hints/--reference)")
    p.add_argument("--hint", action="append", default=[], metavar="X,Y,COLOR",
                   help="a colour hint at pixel X,Y of the photo (from its top-left corner), COLOR as #rrggbb or a "
                        "CSS name, optionally ,RADIUS in pixels; repeatable: --hint 120,340,#1f3a93 --hint 40,40,red")
    p.add_argument("--hints", metavar="FILE",
                   help='hints from a JSON file: dots {"x": 120, "y": 340, "color": "#1f3a93"} and strokes {"points": '
                        '[[10, 20], [60, 25], ...], "color": "red"} (a line of hints), each with an optional "radius", in a list')
    p.add_argument("--reference", metavar="FILE",
                   help="a colour photo of the same or a similar scene: its colours become hints where the scenes match")
    p.add_argument("--render-size", type=int, default=None, metavar="N",
                   help="long side, in pixels, at which the network sees the photo (default: the model's)")
    p.add_argument("--saturation", type=float, default=1.0, metavar="S",
                   help="0 gray, 1 as predicted, >1 more vivid (default: %(default)s)")
    p.add_argument("--compare", action="store_true", help="write the gray input and the result side by side")
    p.add_argument("--format", choices=["jpg", "png", "tif", "webp"], help="output format (default: the input's)")
    p.add_argument("--quality", type=_quality, default=95, metavar="Q",
                   help="JPEG/WebP quality, 0 (smallest) to 100 (best) (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs are never replaced)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse images with more pixels than this (default: %(default)s)")
    add_device_arguments(p)
    p.add_argument("--workers", type=_workers, default="auto", metavar="N",
                   help="photos colorized at once, each on one thread when N > 1 (default auto: one per CPU core "
                        "for a folder or several files on the CPU, else 1 with every thread)")
    p.add_argument("--shard", metavar="I/N",
                   help="do shard I of N of the files (0 <= I < N; by relative path) and write its JSON summary; "
                        "default under torchrun or with RANK/WORLD_SIZE set: RANK/WORLD_SIZE")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _workers(text: str) -> str | int:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number or auto: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _auto_workers(args: argparse.Namespace) -> int:
    """One photo per core for a folder or several files on the CPU (one thread each scales better than
    one photo on every thread: benchmarks/bench_core.py); else one."""
    from pathlib import Path

    several = len(args.inputs) > 1 or any(Path(i).is_dir() for i in args.inputs)
    return min(os.cpu_count() or 1, 8) if several and args.device == "cpu" else 1


def _guidance(args: argparse.Namespace):
    """``--hint``/``--hints`` (parsed; checked against the photo when it is read) and ``--reference`` (read)
    -> (hints, rgb or None)."""
    from chromatize.hints import Hint, load_hints

    hints = [Hint.parse(text) for text in args.hint] + (load_hints(args.hints) if args.hints else [])
    reference = None
    if args.reference:
        from chromatize.io import load_image

        reference = load_image(args.reference, max_pixels=args.max_pixels).rgb
    return hints, reference


def _quality(text: str) -> int:
    """``--quality``: Pillow's range for JPEG and WebP, 0 to 100 (WebP fails above it, JPEG clamps silently)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-100")
    return value


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from chromatize.inference.batch import colorize_files
    from chromatize.inference.shard import parse_shard, shard_from_env, summary_path, write_summary

    # --max-pixels is the limit here; Pillow's warning above half its hard limit would only be noise.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    if Image.MAX_IMAGE_PIXELS and args.max_pixels > 2 * Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = args.max_pixels // 2 + 1  # Pillow's bomb guard must not undercut --max-pixels
    workers = _auto_workers(args) if args.workers == "auto" else args.workers
    if workers > 1:
        import torch

        torch.set_num_threads(1)  # one thread per photo: several photos at once use the cores better
    try:
        hints, reference = _guidance(args)
        shard = parse_shard(args.shard) if args.shard else shard_from_env()
        device = args.device
        if device == "cuda" and shard is not None and "LOCAL_RANK" in os.environ:  # one GPU per process
            device = f"cuda:{os.environ['LOCAL_RANK']}"
        result = colorize_files(
            args.inputs, args.output,
            model=args.model, device=device, backend=args.backend,
            render_size=args.render_size, saturation=args.saturation, compare=args.compare, format=args.format,
            overwrite=args.overwrite, max_pixels=args.max_pixels, quality=args.quality, progress=not args.quiet,
            workers=workers, shard=shard, hints=hints, reference=reference,
        )
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"chromatize colorize: error: {e}", file=sys.stderr)
        return 2
    if shard is not None:
        path = write_summary(summary_path(args.output, args.inputs, *shard), result, *shard)
        print(f"shard {shard[0]}/{shard[1]}: summary in {path}")
    for src, dst in result.done if len(result.done) <= 1 else []:
        print(f"{src} -> {dst}")
    print(result.summary(), file=sys.stderr if result.failed else sys.stdout)
    return 0 if result.ok else 1
