"""``chromatize video IN -o OUT``: colorize a video, steady colours from frame to frame, audio copied."""

from __future__ import annotations

import argparse
import sys

from chromatize.cli import add_device_arguments
from chromatize.inference.temporal import MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        help="colorize a video (audio copied)",
        description="Colorize a black-and-white video. Frame rate, size, duration, rotation and audio are kept; "
        "the output is written to a temporary file beside OUT and renamed when complete.",
    )
    p.add_argument("input", metavar="IN", help="video file (anything FFmpeg reads: mp4, mkv, mov, avi, webm...)")
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="output video; the container follows the suffix (.mp4, .mkv, .mov, .webm)")
    p.add_argument("--model", default="default", metavar="NAME|PATH",
                   help="shipped model name (see `chromatize models`) or checkpoint path (default: %(default)s)")
    p.add_argument("--render-size", type=int, default=None, metavar="N",
                   help="long side, in pixels, at which the network sees each frame (default: the model's)")
    p.add_argument("--saturation", type=float, default=1.0, metavar="S",
                   help="0 gray, 1 as predicted, >1 more vivid (default: %(default)s)")
    p.add_argument("--temporal", choices=list(MODES), default="auto",
                   help="auto: motion-compensated colour propagation; off: frame by frame; average: a plain "
                   "moving average (default: %(default)s)")
    p.add_argument("--codec", default=None,
                   help="video encoder (default: libx264; libvpx-vp9 for .webm)")
    p.add_argument("--crf", type=int, default=None, metavar="N",
                   help="constant rate factor, lower is better quality and larger (default: 18)")
    p.add_argument("--preset", default=None, help="x264/x265 speed preset (default: veryfast)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N", help="frames colorized together")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    add_device_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from chromatize.inference.video import DEFAULT_BATCH, DEFAULT_CRF, VideoError, colorize_video
    except ImportError as e:
        print(f"chromatize video: error: {e} (pip install 'chromatize[video]')", file=sys.stderr)
        return 2
    try:
        result = colorize_video(
            args.input, args.output, args.model,
            render_size=args.render_size, saturation=args.saturation, temporal=args.temporal,
            codec=args.codec, crf=DEFAULT_CRF if args.crf is None else args.crf, preset=args.preset,
            overwrite=args.overwrite, progress=not args.quiet,
            batch_size=args.batch_size or DEFAULT_BATCH, device=args.device, backend=args.backend,
        )
    except (VideoError, FileNotFoundError, FileExistsError, ValueError, KeyError) as e:
        print(f"chromatize video: error: {e}", file=sys.stderr)
        return 2
    print(result.summary())
    return 0
