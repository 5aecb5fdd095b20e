"""``chromatize evaluate``: compare models on a folder of colour photos; writes JSON, CSV and an HTML report."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="compare models on a folder of colour photos (metrics + HTML report)",
        description="Turn each photo in --data gray, colorize it with every MODEL and with the references "
        "'gray' and 'mean-chroma', and write results.json, results.csv and report.html into --out.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="shipped weight name or checkpoint path (.pt/.safetensors)")
    p.add_argument("--data", required=True, help="folder of colour photos (searched recursively)")
    sizing = p.add_mutually_exclusive_group()
    sizing.add_argument("--size", type=int, default=256, help="resize short side to N and centre-crop square (default 256)")
    sizing.add_argument("--full-res", action="store_true", help="evaluate at full resolution instead")
    p.add_argument("--render-size", type=int, default=None, help="long side the networks see (default: each weights file's own)")
    p.add_argument("--out", default="evaluation", help="output folder (default ./evaluation)")
    p.add_argument("--best-worst", type=int, default=3, metavar="N", help="best and worst images shown per model (3)")
    p.add_argument("--limit", type=int, default=None, metavar="K", help="evaluate only the first K readable images")
    p.add_argument("--degrade", type=int, default=None, metavar="SEED",
                   help="degrade the gray inputs like scans of old prints (grain, blur, fading, dust, scratches, "
                   "JPEG), seeded; scored against the clean originals")
    p.add_argument("--degrade-strength", type=float, default=1.0, metavar="S",
                   help="largest severity in [0, 1] with --degrade (default 1: from clean to strongly worn)")
    p.add_argument("--device", default="cpu", help="torch device for the models (cpu, cuda, ...)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chromatize.evaluate import evaluate_folder

    try:
        results = evaluate_folder(
            args.models,
            args.data,
            out=args.out,
            size=None if args.full_res else args.size,
            render_size=args.render_size,
            best_worst=args.best_worst,
            limit=args.limit,
            device=args.device,
            progress=not args.quiet,
            degrade=args.degrade,
            degrade_strength=args.degrade_strength,
        )
    except (FileNotFoundError, NotADirectoryError, ValueError) as e:
        print(f"chromatize evaluate: {e}", file=sys.stderr)
        return 2
    for name, model in results["models"].items():
        s = model["summary"]
        agree = "".join(f"  top-5 {a['top5']['mean']:.3f} top-1 {a['top1']['mean']:.3f} ({judge})" for judge, a in s["agreement"].items())
        print(f"{name:<24} MSE {s['mse']['mean']:.5f}  ΔE00 {s['delta_e2000']['mean']:.2f}  AuC {s['ab_auc_pooled']:.4f}{agree}")
    for note in results["classifier_agreement"]["notes"]:
        print(note)
    from chromatize.evaluate.runner import GRAYSCALE

    gray = [s["file"] for s in results["skipped"] if s["reason"] == GRAYSCALE]
    unreadable = [s["file"] for s in results["skipped"] if s["reason"] != GRAYSCALE]
    if gray:
        print(f"skipped {len(gray)} grayscale photo(s) (no colour to compare against): " + ", ".join(gray))
    if unreadable:
        print(f"skipped {len(unreadable)} unreadable file(s): " + ", ".join(unreadable))
    print(f"wrote {results['outputs']['html']}, results.json and results.csv")
    return 0
