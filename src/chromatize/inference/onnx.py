"""ONNX export and an ONNX Runtime network for the same pipeline (the ``[onnx]`` extra).

:func:`export_onnx` writes a colorizer's network with dynamic batch, height and width, and the checkpoint
header (arch, readout: render size, border, chroma gain...) in the file's metadata, so an ``.onnx`` file
describes itself like a ``.safetensors`` one. :class:`OnnxNetwork` runs it: a callable taking the declared
input tensors and returning the network's output as a tensor, which :class:`chromatize.Colorizer` uses in
place of the PyTorch module (every other step of the pipeline is the same code).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from chromatize import __version__
from chromatize.checkpoint import (
    Readout, checkpoint_header, load_model, model_header, model_readout, readout_from_header, resolve_weights,
)
from chromatize.fsutil import atomic_path
from chromatize.registry import ModelInfo, model_info

#: Metadata key holding the chromatize header (JSON), as in ``.safetensors`` files.
METADATA_KEY = "chromatize"
OPSET = 17


def onnx_available() -> bool:
    """True when onnxruntime and onnx (the ``[onnx]`` extra) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _require_onnx():
    if not onnx_available():
        raise ValueError("the ONNX backend needs onnxruntime and onnx: pip install 'chromatize[onnx]'")


def export_onnx(model: str | os.PathLike | nn.Module, out: str | os.PathLike, **readout_changes) -> Path:
    """Write the network of ``model`` (shipped name, checkpoint path or loaded colorizer network) to ``out``
    (``.onnx``) atomically: inputs as the network declares them (``L [B,1,H,W]``, ...), output ``[B,C,H,W]``,
    with B, H and W dynamic (H, W multiples of the network's size multiple). ``readout_changes`` (e.g.
    ``chroma_gain=1.2``; None leaves a setting) are recorded instead of the checkpoint's own settings."""

    _require_onnx()
    import onnx

    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"ONNX export writes .onnx files, got {out.name!r}")
    network = model if isinstance(model, nn.Module) else load_model(resolve_weights(model))
    info, readout = model_info(network), model_readout(network).with_changes(**readout_changes)
    if info.kind != "colorizer":
        raise ValueError(f"{info.name!r} is a {info.kind}, not a colorizer")
    network = network.float().eval()
    side = max(64, readout.size_multiple)
    examples = tuple(torch.zeros(1, 1 if name == "L" else 3, side, side) for name in readout.inputs)
    axes = {0: "batch", 2: "height", 3: "width"}
    loaded = model_header(network)
    header = checkpoint_header(network, readout=readout.stored(), config=loaded.get("config"), metrics=loaded.get("metrics"))
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants: H, W stay dynamic
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: needs no onnxscript
        torch.onnx.export(
            network, examples, str(tmp), input_names=list(readout.inputs), output_names=["out"],
            dynamic_axes={name: axes for name in (*readout.inputs, "out")}, opset_version=OPSET, dynamo=False,
        )
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(header)
        onnx.save(proto, str(tmp))
    return out


def onnx_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/chromatize/onnx`` (``~/.cache/...`` when unset): exports of checkpoints, made once."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chromatize" / "onnx"


def cached_onnx(name_or_path: str | os.PathLike) -> Path:
    """The ``.onnx`` file for a shipped name, checkpoint or ``.onnx`` path: an ``.onnx`` file as it is, else its
    export in :func:`onnx_cache_dir`, made on first use (keyed by the checkpoint's bytes and this version)."""
    path = resolve_weights(name_or_path)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX file at {path}")
        return path
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"{__version__} torch {torch.__version__} opset {OPSET}".encode())
    target = onnx_cache_dir() / f"{path.stem}-{digest.hexdigest()[:16]}.onnx"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(path, target)
    return target


class OnnxNetwork:
    """An exported colorizer run by ONNX Runtime: ``net(L, *other_inputs) -> output`` on tensors.

    ``info`` and ``readout`` come from the file's metadata. Runs on the CPU (``CPUExecutionProvider``),
    or CUDA when ``device`` is a CUDA device and this onnxruntime build has CUDA. Thread-safe (ONNX
    Runtime sessions may run concurrently).
    """

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "cpu", threads: int | None = None):
        _require_onnx()
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX file at {self.path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Idle ONNX Runtime threads would spin between calls, taking the cores from the PyTorch steps
        # around the network (measured: a 1 MP photo 130 ms with spinning, 88 ms without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.device = torch.device(device)
        providers = ["CPUExecutionProvider"]
        if self.device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError("this onnxruntime has no CUDA support (pip install onnxruntime-gpu), or use --backend torch")
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types for a damaged file
            raise ValueError(f"{self.path} is not a readable ONNX model: {str(e).splitlines()[0][:200]}") from e
        meta = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ValueError(f"{self.path} was not exported by chromatize (no {METADATA_KEY!r} metadata)")
        self.header = json.loads(meta[METADATA_KEY])
        self.info = ModelInfo(**self.header["arch"])
        self.readout: Readout = readout_from_header(self.header)
        self._inputs = [i.name for i in self.session.get_inputs()]

    def to(self, device: str | torch.device) -> "OnnxNetwork":
        if torch.device(device) != self.device:
            return OnnxNetwork(self.path, device)
        return self

    def eval(self) -> "OnnxNetwork":
        return self

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        feeds = {name: t.detach().to("cpu", torch.float32).contiguous().numpy() for name, t in zip(self._inputs, tensors)}
        (out,) = self.session.run(None, feeds)
        return torch.from_numpy(out).to(tensors[0].device)
