"""Self-describing checkpoints: the file alone rebuilds its network, and says how it wants to be run.

The one owner of what a weights file says: shipped names and paths (:func:`resolve_weights`), the header
(:func:`weights_header`), loading (:func:`load_model`) and the typed :class:`Readout` (:func:`model_readout`).

Two formats share one header (``arch``, ``normalization``, ``config``, ``metrics``, ``version``, and
``readout``: inference settings, e.g. ``{"render_size": 256, "border": 32, "chroma_gain": 1.2}``):

- ``.pt``: a training checkpoint, ``torch.save`` of a dict with ``model_state`` and optional
  ``training_state`` (optimizer, step, RNG...). Loaded with ``weights_only=True``.
- ``.safetensors``: shipped weights; the header is JSON in the metadata key ``"chromatize"``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from chromatize import __version__
from chromatize.color import NORMALIZATION
from chromatize.fsutil import atomic_path
from chromatize.registry import ModelInfo, create_model, model_info, unwrap_model

FORMAT = "chromatize-checkpoint/1"
#: Long side, in pixels, at which the network sees a photo unless its weights say otherwise.
DEFAULT_RENDER_SIZE = 256
#: Mirrored pixels added around the render before the network sees it (cropped off afterwards).
DEFAULT_BORDER = 32
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_HEADER_ONLY = ("model_state", "training_state", "extra_models")


#: Render sizes accepted everywhere (the network's activations grow with the square of the size).
MIN_RENDER_SIZE, MAX_RENDER_SIZE = 8, 2048


def check_render_size(size: int, lowest: int = MIN_RENDER_SIZE, highest: int = MAX_RENDER_SIZE) -> int:
    """``size`` if it is a render size (a whole number from ``lowest`` to ``highest``: 8 to 2048 unless a caller
    narrows them, see :class:`chromatize.inference.settings.Limits`), else ValueError. The one rule for
    ``render_size`` / ``--render-size`` everywhere: leaving it out (None) means the weights' own; 0 is no size."""
    if isinstance(size, bool) or not isinstance(size, int) or not lowest <= size <= highest:
        raise ValueError(f"render_size must be a whole number, at least {lowest} and at most "
                         f"{highest} (leave it out for the model's own), got {size!r}")
    return size


@dataclass(frozen=True)
class Readout:
    """How a network wants to be run: stored in its weights file (``readout``) and its ``arch``.

    ``render_size``: long side the network sees; ``border``: mirrored context pixels around the render;
    ``chroma_gain``: factor on predicted chroma that ``saturation=1`` means; ``size_multiple``: H and W the
    network accepts; ``target``: ``"lab"`` (ab out) or ``"rgb"``; ``inputs``: the tensors ``forward`` takes;
    ``flip``: average the prediction with that of the mirrored photo (test-time augmentation; twice the work).
    """

    render_size: int = DEFAULT_RENDER_SIZE
    border: int = DEFAULT_BORDER
    chroma_gain: float = 1.0
    size_multiple: int = 1
    target: str = "lab"
    inputs: tuple[str, ...] = ("L",)
    flip: bool = False

    def __post_init__(self):
        check_render_size(self.render_size)
        if self.border < 0:
            raise ValueError(f"border must be >= 0, got {self.border}")
        if not self.chroma_gain >= 0:
            raise ValueError(f"chroma_gain must be >= 0, got {self.chroma_gain}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def with_changes(self, **changes: Any) -> "Readout":
        """This readout with the settings in ``changes`` that are not None replaced (and checked)."""
        return Readout(**{**self.to_dict(), **{k: v for k, v in changes.items() if v is not None}})

    def stored(self) -> dict[str, Any]:
        """The part written into a header's ``readout`` (the rest comes from ``arch``)."""
        stored = {"render_size": self.render_size, "border": self.border, "chroma_gain": self.chroma_gain}
        return {**stored, "flip": True} if self.flip else stored  # files without it run unflipped


def readout_from_header(header: dict[str, Any]) -> Readout:
    """The :class:`Readout` of a checkpoint header (missing settings take the defaults)."""
    arch = ModelInfo(**header["arch"])
    stored = header.get("readout", {}) or {}
    return Readout(
        render_size=int(stored.get("render_size", DEFAULT_RENDER_SIZE)),
        border=int(stored.get("border", DEFAULT_BORDER)),
        chroma_gain=float(stored.get("chroma_gain", 1.0)),
        size_multiple=int(arch.size_multiple),
        target=arch.target,
        inputs=tuple(arch.inputs),
        flip=bool(stored.get("flip", False)),
    )


def model_header(model: nn.Module) -> dict[str, Any]:
    """The header a network was loaded with (:func:`load_model`): config, metrics, readout...; ``{}`` for a
    freshly built one. Wrappers are looked through."""
    return getattr(unwrap_model(model), "chromatize_checkpoint", None) or {}


def model_readout(model: nn.Module) -> Readout:
    """The :class:`Readout` of a network: from the header it was loaded with (:func:`load_model`), else the
    defaults with the network's own ``arch`` (a freshly built one). Wrappers are looked through."""
    return readout_from_header({**model_header(model), "arch": model_info(model).to_dict()})


def shipped_weights() -> dict[str, Path]:
    """Names of the weights shipped inside the package -> their files."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


#: Suffixes of the files a model can be loaded from.
WEIGHTS_SUFFIXES = (".pt", ".safetensors", ".onnx")


def resolve_weights(name_or_path: str | os.PathLike) -> Path:
    """A shipped weight name (``"default"``) or a checkpoint path -> the file.

    One rule: text that is clearly a path (it has a folder separator or a weights suffix, ``.pt``,
    ``.safetensors``, ``.onnx``) is a path; otherwise a shipped name means the shipped model, whatever
    files or folders of that name the working folder holds; otherwise an existing file of that name.
    A folder is never a weights file: it raises FileNotFoundError, as does a name that is neither.
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    clearly_a_path = any(sep and sep in text for sep in ("/", os.sep, os.altsep)) or path.suffix in WEIGHTS_SUFFIXES
    shipped = shipped_weights()
    if not clearly_a_path and text in shipped:
        return shipped[text]
    if path.is_dir():
        raise FileNotFoundError(f"{text} is a folder, not a weights file (give the checkpoint inside it, e.g. "
                                f"{path / 'best.pt'})")
    if clearly_a_path or path.exists():
        return path
    raise FileNotFoundError(
        f"no shipped model {text!r} and no such checkpoint file; shipped: {', '.join(shipped) or 'none'}"
        " (give a checkpoint path, e.g. one written by chromatize train)"
    )


def weights_header(path: str | os.PathLike) -> dict:
    """The self-description of a checkpoint (arch, config, metrics, readout...) without its tensors when possible."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return _safetensors_header(path)
    ckpt = read_checkpoint(path)
    return {k: v for k, v in ckpt.items() if k not in _HEADER_ONLY}


def _safetensors_header(path: Path) -> dict:
    from safetensors import safe_open

    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # a damaged or foreign file
        raise ValueError(f"{path} is not a chromatize checkpoint: {_first_line(e)}") from e
    if "chromatize" not in meta:
        raise ValueError(f"{path} is not a chromatize checkpoint (no 'chromatize' header in its metadata)")
    header = json.loads(meta["chromatize"])
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a chromatize checkpoint (format {header.get('format') if isinstance(header, dict) else None!r})")
    return header


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


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


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """``"sha256:<hex>"`` of a state dict: every tensor's name, dtype, shape and bytes, in name order.

    Written into each checkpoint's header (``digest``) and checked on reading, so a file altered after it
    was written (or damaged inside its tensor data, which the formats themselves do not check) is refused.
    """
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "sha256:" + h.hexdigest()


def _check_digest(path: Path, ckpt: dict[str, Any]) -> None:
    recorded = ckpt.get("digest")
    if recorded is not None and recorded != state_digest(ckpt["model_state"]):
        raise ValueError(f"{path} has been altered or damaged: its weights do not match the digest recorded when it "
                         "was written (re-export or re-download it)")


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
    header["digest"] = state_digest(state)
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
    if path.suffix == ".safetensors":
        ckpt = _safetensors_header(path)
        try:
            ckpt["model_state"] = load_file(str(path), device=str(map_location))
        except Exception as e:
            raise ValueError(f"{path} is a damaged chromatize checkpoint: {_first_line(e)}") from e
        _check_digest(path, ckpt)
        return ckpt
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types, with pages of weights_only advice, for a foreign file
        raise ValueError(
            f"{path} is not a chromatize checkpoint (no .pt file written by chromatize, or a damaged one: "
            f"{type(e).__name__})"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a chromatize checkpoint (format {ckpt.get('format') if isinstance(ckpt, dict) else None!r})")
    if not isinstance(ckpt.get("model_state"), dict):
        raise ValueError(f"{path} is a damaged chromatize checkpoint (no model_state)")
    _check_digest(path, ckpt)
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
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # torch lists every mismatched tensor over many lines
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        first = lines[1] if len(lines) > 1 else (lines[0] if lines else type(e).__name__)
        raise ValueError(f"{path}: its weights do not fit the network its header describes "
                         f"({ckpt['arch'].get('name')} {ckpt['arch'].get('kwargs')}): {first}") from e
    model.eval()
    model.chromatize_checkpoint = {k: v for k, v in ckpt.items() if k not in _HEADER_ONLY}
    return model
