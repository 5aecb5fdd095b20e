"""The run directory: resolved config, metrics log, loss curve and sample triptychs (all written atomically).

Layout::

    config.yaml  metrics.jsonl  loss_curve.png  last.pt  best.pt
    checkpoints/step_00001000.pt   samples/epoch_001.png
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from chromatize.fsutil import atomic_path, atomic_write_text
from chromatize.io import from_rgb_array


def new_run_dir(name: str, root: str | os.PathLike = "runs") -> Path:
    """``root/<name>-<YYYYmmdd-HHMMSS>`` (with a counter when that exists), created."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def remove_partial_files(run_dir: Path) -> None:
    """Delete temporary files left by a write that was killed (they never replaced a real file)."""
    for tmp in list(run_dir.glob(".*.part*")) + list(run_dir.glob("*/.*.part*")):
        tmp.unlink(missing_ok=True)


def write_metrics(run_dir: Path, history: list[dict], name: str = "metrics.jsonl") -> None:
    """Rewrite ``metrics.jsonl`` (one JSON object per epoch; or another log ``name``, such as
    ``selection.jsonl``) from the history kept in the checkpoint."""
    atomic_write_text(run_dir / name, "".join(json.dumps(row) + "\n" for row in history))


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def plot_losses(run_dir: Path, history: list[dict]) -> None:
    """``loss_curve.png``: train and val loss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(epochs, [row["train_loss"] for row in history], "o-", label="train")
    val = [(row["epoch"], row["val_loss"]) for row in history if row.get("val_loss") is not None]
    if val:
        ax.plot(*zip(*val), "s-", label="val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(run_dir.name)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")  # "best" searches every point: slow (and warned about) on long runs
    fig.tight_layout()
    with atomic_path(run_dir / "loss_curve.png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def save_triptychs(path: Path, gray: torch.Tensor, pred: torch.Tensor, original: torch.Tensor) -> None:
    """One row per image: gray input | prediction | original; tensors sRGB ``[B,3,H,W]`` in [0,1]."""
    rows = torch.cat([gray, pred, original], dim=-1)  # [B,3,H,3W]
    grid = torch.cat(list(rows), dim=-2)  # [3,B*H,3W]
    array = grid.permute(1, 2, 0).float().cpu().numpy()
    with atomic_path(path) as tmp:
        from_rgb_array(np.clip(array, 0.0, 1.0)).save(tmp)
