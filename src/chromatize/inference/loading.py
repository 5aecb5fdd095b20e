"""Loading a colorizer: names and files (:func:`chromatize.checkpoint.resolve_weights`), the backend
(PyTorch or ONNX Runtime) and what a loaded network lacks (the encoder that matches reference photos)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from chromatize.checkpoint import load_model, resolve_weights
from chromatize.devices import resolve_device
from chromatize.inference import BACKENDS
from chromatize.registry import unwrap_model

if TYPE_CHECKING:
    from chromatize.inference.engine import ColorEngine


def load_network(name_or_path: str | os.PathLike, *, backend: str = "auto", device: Any = "cpu") -> dict[str, Any]:
    """A shipped model name, a checkpoint (``.pt`` / ``.safetensors``) or an ``.onnx`` export -> the keyword
    arguments of :class:`chromatize.inference.engine.ColorEngine` that name it: ``model`` (the network),
    ``device``, ``weights`` (the file) and ``name`` (as the caller named it).

    ``backend``: ``"torch"``, ``"onnx"`` (ONNX Runtime; a checkpoint is exported once to a cache) or
    ``"auto"``: ONNX Runtime on the CPU when the ``[onnx]`` extra is installed (it is the faster one, see
    ``benchmarks/bench_core.py``), else PyTorch. An ``.onnx`` file always runs on ONNX Runtime.
    """
    from chromatize.inference import onnx

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    path = resolve_weights(name_or_path)
    if path.suffix == ".onnx" and backend == "torch":
        raise ValueError(f"{path} is an ONNX file: it runs with backend onnx (or auto)")
    device = resolve_device(device)
    if backend == "auto":
        # ONNX Runtime on the CPU (hint networks too: their prior is built in the core, outside the graph).
        faster = path.suffix == ".onnx" or (device.type == "cpu" and onnx.onnx_available())
        backend = "onnx" if faster else "torch"
    model = onnx.OnnxNetwork(onnx.cached_onnx(path), device) if backend == "onnx" else load_model(path)
    return {"model": model, "device": device, "weights": path, "name": os.fspath(name_or_path)}


def reference_encoder_for(engine: "ColorEngine") -> nn.Module:
    """The ImageNet MobileNetV2 whose features match a photo to a reference: the network's own (frozen)
    encoder when it has one (for an ONNX network, read from the checkpoint it was exported from), else one
    built from the ImageNet weights package. ``ValueError`` (one line) when there is none."""
    from chromatize.models.mobilenet import MobileNetV2, mobilenet_encoder

    network = engine.model
    if not isinstance(network, nn.Module) and engine.weights is not None and Path(engine.weights).suffix != ".onnx":
        network = load_model(engine.weights)
    encoder = getattr(unwrap_model(network), "encoder", None) if isinstance(network, nn.Module) else None
    if isinstance(encoder, MobileNetV2):
        return encoder
    try:
        return mobilenet_encoder(pretrained=True)
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise ValueError(f"a reference photo is matched with ImageNet MobileNetV2 features, which model "
                         f"{engine.name!r} cannot give here (no PyTorch checkpoint of it): {e}") from None


def default_model_name(guided: bool) -> str:
    """The shipped model to use when none is named: ``"hints"`` for hints or a reference (when shipped)."""
    from chromatize.checkpoint import shipped_weights

    return "hints" if guided and "hints" in shipped_weights() else "default"
