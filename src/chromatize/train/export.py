"""Turn a training checkpoint into shipping weights: ``.safetensors``, optionally fp16, header kept."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from chromatize.checkpoint import build_from_arch, read_checkpoint, readout_from_header, save_checkpoint


def export_weights(
    checkpoint: str | os.PathLike, out: str | os.PathLike, *, half: bool = False, chroma_gain: float | None = None,
    render_size: int | None = None, border: int | None = None, flip: bool | None = None,
) -> Path:
    """Write the colorizer of ``checkpoint`` (.pt or .safetensors) to ``out`` (.safetensors) atomically.

    Training state and extra networks (a GAN discriminator) are dropped; arch, normalisation, config and
    metrics are kept, so :func:`chromatize.load_model` rebuilds it. ``half`` stores float tensors as fp16.
    ``chroma_gain`` (> 0) is recorded in the header's ``readout``: :class:`chromatize.Colorizer` multiplies
    the predicted chroma by it (pick it with :func:`chromatize.evaluate.calibrate.calibrate_chroma_gain`).
    ``render_size``, ``border`` and ``flip`` (average with the mirrored photo) record how the network wants to be run; the full :class:`Readout` (with
    defaults for what the checkpoint does not say) is written, so the file describes itself.
    """
    if chroma_gain is not None and not chroma_gain > 0:
        raise ValueError(f"chroma_gain must be > 0, got {chroma_gain}")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise ValueError(f"export writes .safetensors files, got {out.name!r}")
    if Path(out).resolve() == Path(checkpoint).resolve():
        raise ValueError("export would overwrite its input; choose another output path")
    ckpt = read_checkpoint(checkpoint)
    model = build_from_arch(ckpt["arch"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["model_state"].items()})
    if half:
        model = model.to(torch.float16)
    readout = readout_from_header(ckpt).with_changes(chroma_gain=chroma_gain, render_size=render_size, border=border,
                                                     flip=flip)
    return save_checkpoint(out, model, config=ckpt.get("config"), metrics=ckpt.get("metrics"), readout=readout.stored())
