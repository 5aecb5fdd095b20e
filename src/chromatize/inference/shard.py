"""Splitting a folder's work over N processes or machines, and each shard's JSON summary.

Shard ``I/N`` takes every N-th file, starting at the I-th, of the planned ``(input, output)`` pairs
ordered by their path relative to the inputs' common folder, so N processes given the same inputs do each
file exactly once, on whichever machine and mount point. Each one skips outputs that exist, so a killed
shard is restarted by running the same command again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from chromatize.fsutil import atomic_write_text
from chromatize.io import SAVE_FORMATS


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; anything else raises ValueError."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = -1
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard must be I/N with 0 <= I < N (like RANK/WORLD_SIZE), got {text!r}")
    return i, n


def shard_from_env(environ: dict | None = None) -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` when set (torchrun, SLURM / Kubernetes launchers), else None."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return None
    return parse_shard(f"{env.get('RANK', '0')}/{env['WORLD_SIZE']}")


def shard_pairs(pairs: list[tuple[Path, Path]], index: int, count: int) -> list[tuple[Path, Path]]:
    """Shard ``index`` of ``count`` of the ``(input, output)`` pairs (see the module docstring)."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} must be in [0, {count})")
    if not pairs:
        return []
    root = os.path.commonpath([os.path.abspath(src) for src, _ in pairs])
    root = root if len(pairs) > 1 else os.path.dirname(root)
    ordered = sorted(pairs, key=lambda p: Path(os.path.relpath(os.path.abspath(p[0]), root)).as_posix())
    return ordered[index::count]


def summary_path(output: str | os.PathLike | None, inputs: list[str | os.PathLike], index: int, count: int) -> Path:
    """Where shard ``index`` of ``count`` writes its summary: in the output folder (or, with outputs beside
    the inputs, the inputs' common folder), as ``colorize-shard-I-of-N.json``."""
    if output is not None:
        out = Path(output)
        folder = out.parent if out.suffix.lower() in SAVE_FORMATS and not out.is_dir() else out  # as plan_outputs reads it
    else:
        common = os.path.commonpath([os.path.abspath(p) for p in inputs])
        folder = Path(common) if Path(common).is_dir() else Path(common).parent
    return folder / f"colorize-shard-{index}-of-{count}.json"


def write_summary(path: Path, result, index: int, count: int) -> Path:
    """Write the shard's :class:`BatchResult` as JSON (atomically): counts, and every file with its fate."""
    data = {
        "shard": index, "shards": count, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "done": len(result.done), "skipped": len(result.skipped), "failed": len(result.failed),
        "files": {
            "done": [[str(s), str(d)] for s, d in result.done],
            "skipped": [[str(s), str(d)] for s, d in result.skipped],
            "failed": [{"input": str(s), "reason": reason} for s, reason in result.failed],
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return path
