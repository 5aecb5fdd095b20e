"""Train several recipes for the same CPU-time budget on the same data, then evaluate them together.

    python benchmarks/compare_recipes.py --minutes 10 --out runs/compare \\
        configs/unet.yaml:model.args.base=16 configs/mobilenet_unet.yaml

Each RECIPE is ``CONFIG.yaml[:key=value[,key=value...]]``. Every recipe gets the same data, validation
folder, image size and time budget (``max_minutes``: training time only, evaluation excluded); a run that
already exists in ``--out`` is resumed up to the budget, so a killed comparison continues. The runs'
``best.pt`` are then evaluated with :func:`chromatize.evaluate.evaluate_folder` (which adds the ``gray`` and
``mean-chroma`` references) and a Markdown table is printed and written to ``OUT/table.md``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def run_name(recipe: str) -> str:
    """A folder name for a recipe: config stem plus its overrides."""
    config, _, extra = recipe.partition(":")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(config).stem + ("-" + extra if extra else "")).strip("_")


def main() -> None:
    from chromatize.evaluate import evaluate_folder
    from chromatize.train.run import train

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipes", nargs="+", metavar="RECIPE")
    p.add_argument("--minutes", type=float, required=True, help="training-time budget per recipe")
    p.add_argument("--data", default="data/corpus/train")
    p.add_argument("--val", default="data/corpus/val")
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--eval-size", type=int, default=256)
    a = p.parse_args()

    out = Path(a.out)
    best = []
    for recipe in a.recipes:
        config, _, extra = recipe.partition(":")
        run_dir = out / run_name(recipe)
        common = [f"data={a.data}", f"val_data={a.val}", f"image_size={a.image_size}", f"threads={a.threads}",
                  f"max_minutes={a.minutes}", "epochs=100000", "progress=false"]
        if (run_dir / "last.pt").is_file():
            result = train(resume=run_dir, overrides=[f"max_minutes={a.minutes}", "epochs=100000"])
        else:
            result = train(config, overrides=common + [kv for kv in extra.split(",") if kv], run_dir=run_dir)
        last = result.history[-1] if result.history else {}
        print(f"{run_dir.name}: {result.step} steps, {last.get('images_seen')} images, "
              f"{last.get('train_seconds', 0) / 60:.1f} min, best val loss {result.best_val}")
        best.append(str(run_dir / "best.pt"))

    results = evaluate_folder(best, a.val, out=out / "evaluation", size=a.eval_size, progress=False)
    rows = ["| model | MSE (RGB) | PSNR dB | SSIM | ΔE00 | AuC ab | CF pred / orig | ΔCF |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, model in results["models"].items():
        s = model["summary"]
        rows.append(f"| {name} | {s['mse']['mean']:.5f} | {s['psnr']['mean']:.2f} | {s['ssim']['mean']:.4f} | "
                    f"{s['delta_e2000']['mean']:.2f} | {s['ab_auc_pooled']:.4f} | "
                    f"{s['cf_pred']['mean']:.1f} / {s['cf_orig']['mean']:.1f} | {s['delta_cf']:.1f} |")
    table = "\n".join(rows)
    (out / "table.md").write_text(table + "\n")
    print(table)
    print(f"report: {results['outputs']['html']}")


if __name__ == "__main__":
    main()
