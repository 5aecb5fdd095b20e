"""Colorize many files: find images in folders, plan output paths, run one model over all of them.

A bad file is recorded and skipped; the batch goes on. Inputs are never written; outputs are written
atomically and existing ones are kept unless ``overwrite``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from chromatize.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    SAVE_FORMATS,
    ImageReadError,
    from_rgb_array,
    load_image,
    save_image,
    side_by_side,
)

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
        lines = [f"{len(self.done)} done, {len(self.skipped)} skipped (output exists; --overwrite replaces), "
                 f"{len(self.failed)} failed"]
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
    beside an input ``<name>.*`` (an earlier result), is not an input.
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
    return [(s, d) for s, d in pairs if os.path.abspath(s) not in outputs_of_others]


def colorize_files(
    inputs: list[str | os.PathLike],
    output: str | os.PathLike | None = None,
    *,
    model=None,
    device: str = "cpu",
    render_size: int | None = None,
    saturation: float = 1.0,
    compare: bool = False,
    format: str | None = None,
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    quality: int = 95,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
) -> BatchResult:
    """Colorize every image in ``inputs`` (files or folders) with one model; see :func:`plan_outputs`.

    ``model`` is a :class:`Colorizer`, a shipped weight name or a checkpoint path (default: the shipped
    ``"default"``); it is loaded once. ``compare`` writes the gray input and the result side by side.
    ``shard=(I, N)`` does only shard I of N of the files (:func:`chromatize.inference.shard.shard_pairs`).
    """
    from tqdm import tqdm

    from chromatize.inference.pipeline import Colorizer, gray_array

    if saturation < 0:
        raise ValueError(f"saturation must be >= 0, got {saturation}")
    pairs = plan_outputs(inputs, output, format=format, compare=compare)
    if not pairs:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    all_inputs = [src for src, _ in pairs]
    if shard is not None:
        from chromatize.inference.shard import shard_pairs

        pairs = shard_pairs(pairs, *shard)
        if not pairs:  # more shards than files: nothing to do here
            return BatchResult()
    colorizer = model if isinstance(model, Colorizer) else Colorizer.from_pretrained(model or "default", device=device)
    colorizer.render_shape(1, 1, render_size)  # validates render_size before any file is touched
    result = BatchResult()
    bar = tqdm(pairs, unit="image", disable=not progress or len(pairs) < 2)
    for src, dst in bar:
        bar.set_postfix_str(src.name)
        if any(os.path.abspath(dst) == os.path.abspath(s) for s in all_inputs):
            result.failed.append((src, f"output {dst} would overwrite an input"))
            continue
        if dst.exists() and not overwrite:
            result.skipped.append((src, dst))
            continue
        try:
            loaded = load_image(src, max_pixels=max_pixels)
            image = from_rgb_array(
                colorizer.colorize_array(loaded.rgb, render_size=render_size, saturation=saturation), loaded.alpha
            )
            if compare:
                image = side_by_side(from_rgb_array(gray_array(loaded.rgb), loaded.alpha), image)
            del loaded  # free the input before encoding the output
            save_image(image, dst, quality=quality, overwrite=overwrite, protect=all_inputs)
        except (ImageReadError, OSError, ValueError) as e:
            result.failed.append((src, e.reason if isinstance(e, ImageReadError) else f"{type(e).__name__}: {e}"))
            continue
        result.done.append((src, dst))
    return result


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
