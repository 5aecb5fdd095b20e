"""Model registry: ``@register_model`` on small builder functions, ``create_model(name, **kw)``.

A builder returns a pure ``nn.Module``. ``create_model`` attaches a :class:`ModelInfo` as
``model.chromatize_info`` so the pipeline and checkpoints know how to feed and rebuild it.

Contract for ``kind="colorizer"``: input normalised L ``[B,1,H,W]``; output normalised ab
``[B,2,H,W]`` when ``target="lab"``, or sRGB ``[B,3,H,W]`` in ``[0,1]`` when ``target="rgb"``.
H and W must be multiples of ``size_multiple`` (the pipeline pads). A model whose multiple depends on
its arguments (e.g. U-Net depth) sets a ``size_multiple`` attribute, which overrides the registered one.

Inputs are declared, not assumed: ``inputs`` names, in order, the tensors ``forward`` takes. Every
colorizer takes ``"L"`` first; an extra input (e.g. ``"hints"``) is one name in :data:`INPUTS` and one
tensor the pipeline builds (:mod:`chromatize.inference.core`).

Wrappers (``torch.compile``, ``DistributedDataParallel``) hide these attributes: ask through
:func:`unwrap_model` / :func:`model_info`, which look through them.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from torch import nn

TARGETS = ("lab", "rgb")
#: Inputs a network may declare -> what the pipeline passes (all ``[B,C,H,W]`` at the render size, on its device).
INPUTS = {
    "L": "normalised L [B,1,H,W] in [-1,1]",
    "hints": "sparse hints [B,3,H,W]: normalised ab at hinted pixels (0 elsewhere) and a 0/1 mask",
    "hint_prior": "the hints spread along the photo [B,3,H,W]: nearest hint's ab x reach, reach (chromatize.hint_prior)",
}


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one builder."""

    name: str
    builder: Callable[..., nn.Module]
    size_multiple: int = 1
    targets: tuple[str, ...] = ("lab",)
    kind: str = "colorizer"  # or "discriminator"
    description: str = ""
    inputs: tuple[str, ...] = ("L",)


@dataclass
class ModelInfo:
    """Attached to every created model as ``model.chromatize_info``; enough to rebuild it."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    target: str = "lab"
    size_multiple: int = 1
    kind: str = "colorizer"
    inputs: tuple[str, ...] = ("L",)

    def __post_init__(self):
        self.inputs = tuple(self.inputs)  # a list after a JSON round trip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str | None = None,
    *,
    size_multiple: int = 1,
    targets: tuple[str, ...] = ("lab",),
    kind: str = "colorizer",
    inputs: tuple[str, ...] = ("L",),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``builder(**kwargs) -> nn.Module`` under ``name`` (default: function name).

    A builder listing ``target`` in ``targets`` beyond "lab" must accept a ``target`` keyword. ``inputs``
    names the tensors its ``forward`` takes, in order (keys of :data:`INPUTS`; colorizers start with "L").
    A model whose inputs depend on its arguments sets an ``inputs`` attribute, which overrides these.
    """
    unknown = [i for i in inputs if i not in INPUTS]
    if unknown or (kind == "colorizer" and inputs[:1] != ("L",)):
        raise ValueError(f"inputs must start with 'L' and be among {list(INPUTS)}, got {inputs}")

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or builder.__name__
        if key in _REGISTRY and _REGISTRY[key].builder is not builder:
            raise ValueError(f"model {key!r} is already registered")
        doc = inspect.getdoc(builder) or ""
        _REGISTRY[key] = ModelSpec(key, builder, size_multiple, tuple(targets), kind, doc.split("\n")[0], tuple(inputs))
        return builder

    return decorate


def _ensure_builtin_models() -> None:
    # Importing the package registers the built-in families (decorators run on import).
    import chromatize.models  # noqa: F401


def get_spec(name: str) -> ModelSpec:
    _ensure_builtin_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"unknown model {name!r}; registered models: {known}") from None


def list_models(kind: str | None = "colorizer") -> list[str]:
    """Registered model names, sorted; ``kind=None`` lists discriminators too."""
    _ensure_builtin_models()
    return sorted(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build registered model ``name`` with builder keyword arguments ``kwargs``."""
    spec = get_spec(name)
    target = kwargs.get("target", "lab")
    if spec.kind == "colorizer" and target not in spec.targets:
        raise ValueError(f"model {name!r} supports targets {spec.targets}, not {target!r}")
    if "target" in kwargs and "target" not in inspect.signature(spec.builder).parameters:
        kwargs = {k: v for k, v in kwargs.items() if k != "target"}
    model = spec.builder(**kwargs)
    multiple = int(getattr(model, "size_multiple", spec.size_multiple))
    inputs = tuple(getattr(model, "inputs", spec.inputs))
    model.chromatize_info = ModelInfo(spec.name, dict(kwargs), target, multiple, spec.kind, inputs)
    return model


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain network inside ``torch.compile`` (``_orig_mod``) and ``DistributedDataParallel`` /
    ``DataParallel`` (``module``) wrappers, however nested; ``model`` itself when it is not wrapped."""
    while True:
        inner = getattr(model, "_orig_mod", None)
        if inner is None and isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            inner = model.module
        if inner is None:
            return model
        model = inner


def model_info(model: nn.Module) -> ModelInfo:
    """The :class:`ModelInfo` of a model made by :func:`create_model` (wrappers looked through)."""
    info = getattr(unwrap_model(model), "chromatize_info", None)
    if info is None:
        raise ValueError("model was not built by chromatize.create_model; its architecture is unknown")
    return info
