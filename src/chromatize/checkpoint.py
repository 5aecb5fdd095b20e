"""Self-describing checkpoints: the file alone rebuilds its network.

Two formats share one header (``arch``, ``normalization``, ``config``, ``metrics``, ``version``, and
``readout``: inference settings calibrated after training, e.g. ``{"chroma_gain": 1.2}``):

- ``.pt``: a training checkpoint, ``torch.save`` of a dict with ``model_state`` and optional
  ``training_state`` (optimizer, step, RNG...). Loaded with ``weights_only=True``.
- ``.safetensors``: shipped weights; the header is JSON in the metadata key ``"chromatize"``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from chromatize import __version__
from chromatize.color import NORMALIZATION
from chromatize.fsutil import atomic_path
from chromatize.registry import ModelInfo, create_model, model_info

FORMAT = "chromatize-checkpoint/1"


def checkpoint_header(
    model: nn.Module, *, config: dict | None = None, metrics: dict | None = None, readout: dict | None = None
) -> dict[str, Any]:
    """The JSON-able description written into every checkpoint of ``model``."""
    return {
        "format": FORMAT,
        "arch": model_info(model).to_dict(),
        "normalization": dict(NORMALIZATION),
        "config": config or {},
        "metrics": metrics or {},
        "version": __version__,
        "readout": dict(readout or {}),
    }


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    config: dict | None = None,
    metrics: dict | None = None,
    training_state: dict | None = None,
    extra_models: dict[str, nn.Module] | None = None,
    readout: dict | None = None,
) -> Path:
    """Write a ``.pt`` (with optional training state) or ``.safetensors`` checkpoint atomically.

    ``extra_models`` (e.g. a GAN discriminator) are stored, with their own arch, in ``.pt`` files only.
    """
    path = Path(path)
    header = checkpoint_header(model, config=config, metrics=metrics, readout=readout)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            if training_state or extra_models:
                raise ValueError("training state belongs in a .pt checkpoint, not .safetensors")
            save_file(state, str(tmp), metadata={"chromatize": json.dumps(header)})
        else:
            payload = dict(header, model_state=state)
            if training_state is not None:
                payload["training_state"] = training_state
            if extra_models:
                payload["extra_models"] = {
                    k: {"arch": model_info(m).to_dict(), "state": m.state_dict()} for k, m in extra_models.items()
                }
            torch.save(payload, tmp)
    return path


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint as a dict: the header plus ``model_state`` (and ``training_state`` for ``.pt``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if "chromatize" not in meta:
                raise ValueError("no 'chromatize' header in the safetensors metadata")
            ckpt = json.loads(meta["chromatize"])
            ckpt["model_state"] = load_file(str(path), device=str(map_location))
        else:
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch/safetensors raise many types for a damaged file
        raise ValueError(f"{path} is not a readable chromatize checkpoint: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a chromatize checkpoint (format {ckpt.get('format') if isinstance(ckpt, dict) else None!r})")
    return ckpt


def build_from_arch(arch: dict[str, Any]) -> nn.Module:
    """Rebuild an untrained network from a checkpoint's ``arch`` entry."""
    info = ModelInfo(**arch)
    kwargs = dict(info.kwargs)
    if kwargs.get("pretrained"):
        # The checkpoint holds every weight: never fetch the ImageNet initialisation again.
        kwargs["pretrained"] = False
    if info.target != "lab":
        kwargs["target"] = info.target
    return create_model(info.name, **kwargs)


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild and load the network saved at ``path``; returned in eval mode.

    ``model.chromatize_checkpoint`` holds the header (config, metrics, normalisation, version).
    """
    ckpt = read_checkpoint(path, map_location)
    norm = ckpt.get("normalization", {})
    if norm and any(abs(float(norm[k]) - v) > 1e-9 for k, v in NORMALIZATION.items() if k in norm):
        raise ValueError(f"{path} was trained with normalisation {norm}, this version uses {NORMALIZATION}")
    model = build_from_arch(ckpt["arch"])
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["model_state"].items()}
    model.load_state_dict(state)
    model.eval()
    model.chromatize_checkpoint = {k: v for k, v in ckpt.items() if k not in ("model_state", "training_state", "extra_models")}
    return model
