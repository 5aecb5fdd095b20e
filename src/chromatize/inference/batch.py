"""Colorize many files: find images in folders, plan output paths, run one model over all of them.

A bad file is recorded and skipped; the batch goes on. Inputs are never written; outputs are written
atomically and existing ones are kept unless ``overwrite``.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chromatize.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    SAVE_FORMATS,
    ImageReadError,
    from_rgb_array,
    load_image,
    Inputs,
    save_image,
    side_by_side,
)
from chromatize.io16 import DEEP_SUFFIXES, save_rgb16

#: Added to the file name when the result is written beside its input.
SUFFIX = "_color"


@dataclass
class BatchResult:
    """What happened to each input: written, skipped (output exists) or failed (with the reason)."""

    done: list[tuple[Path, Path]] = field(default_factory=list)
    skipped: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        why = " (output exists; --overwrite replaces)" if self.skipped else ""
        lines = [f"{len(self.done)} done, {len(self.skipped)} skipped{why}, {len(self.failed)} failed"]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def find_inputs(inputs: list[str | os.PathLike], exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Files and folders (searched recursively for image suffixes, hidden names skipped) -> sorted
    ``(file, path relative to its folder)`` pairs; a file given directly is relative to its own parent. Files under ``exclude``
    (the output folder) are left out. A missing input raises FileNotFoundError."""
    found: dict[Path, Path] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            skip = None if _under(item, exclude) else exclude  # an output folder inside the input one
            for f in sorted(item.rglob("*")):
                hidden = any(part.startswith(".") for part in f.relative_to(item).parts)  # e.g. unfinished writes
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not hidden and not _under(f, skip):
                    found.setdefault(f, f.relative_to(item))
        elif item.is_file():
            found.setdefault(item, Path(item.name))
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    return sorted(found.items())


def plan_outputs(
    inputs: list[str | os.PathLike], output: str | os.PathLike | None = None, *, format: str | None = None,
    compare: bool = False,
) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs.

    No ``output``: ``<name>_color.<ext>`` beside each input (``_compare`` with ``compare``). ``output`` a
    file name with an image suffix and one input: that file. Otherwise ``output`` is a folder that
    mirrors the input tree. ``<ext>`` is ``format``, else the input's when writable, else ``png``.
    A file that is the planned output of another input, or ``<name>_color.*`` / ``<name>_compare.*``
    beside an input ``<name>.*`` (an earlier result), is not an input. Two inputs planned onto one output
    raise ValueError naming both (no result may replace another).
    """
    out = Path(output) if output is not None else None
    single_file_out = out is not None and out.suffix.lower() in SAVE_FORMATS and not out.is_dir()
    files = find_inputs(inputs, exclude=None if out is None or single_file_out else out)
    suffix = "_compare" if compare else SUFFIX
    if out is None:  # results of earlier runs beside their inputs are not inputs, whatever their options
        stems = {(src.parent, src.stem) for src, _ in files}
        files = [(src, rel) for src, rel in files if not _is_result_of(src, stems)]
    pairs = []
    for src, rel in files:
        ext = "." + (format or src.suffix).lower().lstrip(".")
        ext = ".jpg" if ext == ".jpeg" else ext if ext in SAVE_FORMATS else ".png"
        if out is None:
            dst = src.with_name(src.stem + suffix + ext)
        elif single_file_out:
            dst = out
        else:
            dst = out / rel.with_suffix(ext)
        pairs.append((src, dst))
    if single_file_out and len(pairs) > 1:
        raise ValueError(f"{out} is a file name but there are {len(pairs)} inputs; give a folder")
    outputs_of_others = {os.path.abspath(d) for s, d in pairs if os.path.abspath(s) != os.path.abspath(d)}
    pairs = [(s, d) for s, d in pairs if os.path.abspath(s) not in outputs_of_others]
    _refuse_shared_outputs(pairs)
    return pairs


def _refuse_shared_outputs(pairs: list[tuple[Path, Path]]) -> None:
    """Raise ValueError, in one line naming both inputs, when two inputs would be written to one output
    (``scan.jpg`` and ``scan.tif`` with ``--format png``, ``a/x.jpg`` and ``b/x.jpg`` into one folder): one
    result would replace the other. Checked on the whole plan, before any work and before sharding."""
    seen: dict[str, Path] = {}
    clashes = []
    for src, dst in pairs:
        key = os.path.normcase(os.path.abspath(dst))
        if key in seen:
            clashes.append((seen[key], src, dst))
        else:
            seen[key] = src
    if clashes:
        first, second, dst = clashes[0]
        more = f" (and {len(clashes) - 1} more such clashes)" if len(clashes) > 1 else ""
        raise ValueError(f"{first} and {second} would both be written to {dst}{more}: rename one of them or "
                         "colorize them in separate runs")


def colorize_files(
    inputs: list[str | os.PathLike],
    output: str | os.PathLike | None = None,
    *,
    model=None,
    device: str = "cpu",
    backend: str = "auto",
    render_size: int | None = None,
    saturation: float = 1.0,
    compare: bool = False,
    format: str | None = None,
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    quality: int = 95,
    progress: bool = True,
    overlap: bool = True,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    hints=(),
    reference=None,
) -> BatchResult:
    """Colorize every image in ``inputs`` (files or folders) with one model; see :func:`plan_outputs`.

    ``model`` is a :class:`Colorizer`, a shipped weight name or a checkpoint path (default: the shipped
    ``"default"``); it is loaded once. ``compare`` writes the gray input and the result side by side.
    A photo of more than 8 bits (16-bit or float PNG/TIFF) written as PNG or TIFF is written at 16 bits
    (``compare`` images are 8-bit). ``overlap``: decode the next photos and encode finished ones in background threads while the network
    runs, ``workers`` photos colorized at once (at most ``workers`` + :data:`READ_AHEAD` +
    :data:`WRITE_BEHIND` photos in memory); ``False`` does one photo after the other. With several workers
    on a CPU, one PyTorch thread each (``torch.set_num_threads(1)``) uses the cores best.
    ``shard=(I, N)`` does only shard I of N of the files (:func:`chromatize.inference.shard.shard_pairs`).
    ``hints`` (:class:`chromatize.hints.Hint`, for one photo) and ``reference`` (a colour photo, sRGB array or
    PIL image, for every photo) guide a model that takes hints; without ``model`` they pick the shipped ``hints``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    from tqdm import tqdm

    from chromatize.hints import HintError
    from chromatize.inference.loading import default_model_name
    from chromatize.inference.pipeline import Colorizer, gray_array

    pairs = plan_outputs(inputs, output, format=format, compare=compare)
    if not pairs:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    if hints and len(pairs) != 1:
        raise ValueError("hints are positions in one photo: give exactly one input file")
    all_inputs = Inputs(src for src, _ in pairs)
    if shard is not None:
        from chromatize.inference.shard import shard_pairs

        pairs = shard_pairs(pairs, *shard)
        if not pairs:  # more shards than files: nothing to do here
            return BatchResult()
    name = None if isinstance(model, Colorizer) else str(model or default_model_name(bool(hints) or reference is not None))
    colorizer = model if name is None else Colorizer.from_pretrained(name, device=device, backend=backend)
    # Every setting of the run, resolved and checked once, before any file is touched.
    settings = colorizer.prepare(render_size=render_size, saturation=saturation, hints=hints, reference=reference)
    outcome: list[tuple[str, str | None]] = [("done", None)] * len(pairs)
    todo = []
    for i, (src, dst) in enumerate(pairs):
        try:
            all_inputs.refuse(dst)
        except ValueError as e:
            outcome[i] = ("failed", str(e))
            continue
        if dst.exists() and not overwrite:
            outcome[i] = ("skipped", None)
        else:
            todo.append(i)

    def read(i: int):
        return load_image(pairs[i][0], max_pixels=max_pixels)

    def write(i: int, loaded, colour) -> None:
        if colour.dtype == np.uint16:
            save_rgb16(colour, pairs[i][1], alpha=loaded.alpha, overwrite=overwrite, protect=all_inputs,
                       meta=loaded.meta)
            return
        image = from_rgb_array(colour, loaded.alpha)
        if compare:
            image = side_by_side(from_rgb_array(gray_array(loaded.rgb), loaded.alpha), image)
        save_image(image, pairs[i][1], quality=quality, overwrite=overwrite, protect=all_inputs, meta=loaded.meta)

    def colorize(i: int, pending: Future):
        loaded = pending.result()
        # more than 8 bits in (uint16, float32) and a format that holds them: 16 bits out
        deep = loaded.rgb.dtype != np.uint8 and not compare and pairs[i][1].suffix.lower() in DEEP_SUFFIXES
        return loaded, colorizer.colorize_array(loaded.rgb, settings, bits=16 if deep else 8)

    def finish(i: int, pending: Future) -> None:
        write(i, *pending.result())

    bar = tqdm(total=len(todo), unit="image", disable=not progress or len(todo) < 2)
    in_flight: deque = deque()

    def settle(i: int, done: Future) -> None:
        try:
            done.result()
        except HintError:  # the hints do not fit their one photo: the run's error, not the file's
            raise
        except _FILE_ERRORS as e:
            outcome[i] = ("failed", _reason(e))
        bar.set_postfix_str(pairs[i][0].name)
        bar.update(1)

    with _Stages(overlap, workers) as stages:
        for i in todo:
            # Each stage waits for the one before through its future: reads run ahead, writes behind.
            computed = stages.compute(colorize, i, stages.read(read, i))
            in_flight.append((i, stages.write(finish, i, computed)))
            while len(in_flight) > workers + READ_AHEAD + WRITE_BEHIND:
                settle(*in_flight.popleft())
        while in_flight:
            settle(*in_flight.popleft())
    bar.close()
    result = BatchResult()
    for (src, dst), (status, reason) in zip(pairs, outcome):
        if status == "failed":
            result.failed.append((src, reason))
        else:
            getattr(result, status).append((src, dst))
    return result


#: Photos decoded ahead of the network, and finished ones waiting to be encoded, when overlapping.
READ_AHEAD = 2
WRITE_BEHIND = 2
_FILE_ERRORS = (ImageReadError, OSError, ValueError)


def _reason(e: Exception) -> str:
    """What went wrong with one file, in words (no exception class names)."""
    return e.reason if isinstance(e, ImageReadError) else str(e) or "unknown error"


class _Stages:
    """Where reading, colorizing and writing run: background threads (``overlap``; one reader, ``workers``
    colorizing, one writer), or inline, one photo after the other."""

    def __init__(self, overlap: bool, workers: int):
        self.overlap, self.workers = overlap, workers

    def __enter__(self) -> "_Stages":
        if self.overlap:
            self._pools = [ThreadPoolExecutor(n, thread_name_prefix=f"chromatize-{name}")
                           for name, n in (("read", 1), ("colorize", self.workers), ("write", 1))]
        return self

    def __exit__(self, *exc) -> None:
        if self.overlap:  # an interrupt drops queued work; writes in progress finish (each one is atomic)
            for pool in self._pools:
                pool.shutdown(wait=True, cancel_futures=exc[0] is not None)

    def read(self, fn, *args) -> Future:
        return self._pools[0].submit(fn, *args) if self.overlap else _run_now(fn, *args)

    def compute(self, fn, *args) -> Future:
        return self._pools[1].submit(fn, *args) if self.overlap else _run_now(fn, *args)

    def write(self, fn, *args) -> Future:
        return self._pools[2].submit(fn, *args) if self.overlap else _run_now(fn, *args)


def _run_now(fn, *args) -> Future:
    future: Future = Future()
    try:
        future.set_result(fn(*args))
    except BaseException as e:  # handed to whoever asks for the result, like an executor does
        future.set_exception(e)
    return future


def _is_result_of(path: Path, stems: set[tuple[Path, str]]) -> bool:
    return any(
        path.stem.endswith(tag) and (path.parent, path.stem[: -len(tag)]) in stems for tag in (SUFFIX, "_compare")
    )


def _under(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
