"""Training configuration: dataclasses filled from a YAML recipe plus ``key.sub=value`` overrides.

Every option has a default; a recipe only names what it changes. Unknown keys are errors (a typo must not
silently train the wrong thing). Override values are parsed as YAML and converted to the field's type,
so ``--set lr=3e-4``, ``--set augment.hflip=false``, ``--set freeze=[encoder]`` and
``--set model.args.width=32`` all work. Booleans are only ``true`` / ``false`` (YAML 1.2): ``off``, ``no``,
``on`` and ``yes`` stay text (``amp: off``), and a ``--set`` value for a text field is the text written.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chromatize.data.augment import AugmentConfig
from chromatize.data.hints import HintSimConfig
from chromatize.train.selection import SELECTION_METRICS
from chromatize.train.optim import LR_SCALINGS, OPTIMIZERS, SCHEDULES
from chromatize.train.step import AMP_DTYPES


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true / false (any case); YAML 1.1 also reads
    off, no, on, yes, y, n as booleans, which turns ``amp: off`` into ``False``."""


_BOOL = "tag:yaml.org,2002:bool"
_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def read_yaml(text: str) -> Any:
    """Parse config YAML (safe, with YAML 1.2 booleans: see :class:`_ConfigLoader`)."""
    return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)


@dataclass(frozen=True)
class _Override:
    """A ``--set`` value: parsed, and as written (what a text field takes)."""

    value: Any
    text: str


def _plain(value: Any) -> Any:
    """``value`` with every :class:`_Override` inside replaced by its parsed value."""
    if isinstance(value, _Override):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class ModelConfig:
    """A registered model name and its constructor arguments (``target`` comes from the top level)."""

    name: str = "baseline"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossConfig:
    """``name``: mse, l1 or huber (the regression loss; pix2pix uses L1). ``huber_delta``: Huber's delta.
    Pix2pix: ``gan``: vanilla or lsgan; ``l1_lambda``: weight of the L1 term against the adversarial one.
    Regression: ``semantic`` / ``perceptual``: weights of the ImageNet teacher's class-distribution KL and
    feature L1 (:mod:`chromatize.train.teacher`; 0 = off)."""

    name: str = "mse"
    huber_delta: float = 1.0
    gan: str = "vanilla"
    l1_lambda: float = 100.0
    semantic: float = 0.0
    perceptual: float = 0.0

    def __post_init__(self) -> None:
        if self.semantic < 0 or self.perceptual < 0:
            raise ValueError(f"loss.semantic and loss.perceptual must be >= 0, got {self.semantic}, {self.perceptual}")


@dataclass
class OptimConfig:
    """``name``: adam, adamax, rmsprop or sgd. ``schedule``: none, cosine (to 0 over the run) or step
    (lr x ``gamma`` every ``step_epochs`` epochs). ``beta1`` is Adam's first beta (pix2pix uses 0.5),
    ``momentum`` SGD's / RMSprop's."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    beta1: float = 0.9
    momentum: float = 0.9
    schedule: str = "none"
    step_epochs: int = 10
    gamma: float = 0.5


@dataclass
class SelectConfig:
    """Keep as ``best.pt`` the checkpoint that ``chromatize evaluate`` would rank best (off while ``metric`` is
    ""; then ``best.pt`` has the lowest validation loss). See :mod:`chromatize.train.selection`.

    ``metric``: psnr, ssim, ab_auc (higher is better), mse or delta_e2000 (lower is better), the mean over the
    ``val_data`` photos at ``size`` px (centre square, first ``limit`` photos; 0 = all) rendered at
    ``render_size``. Ranked by it are the evaluations whose colourfulness reaches ``min_colourfulness`` x the
    originals'; while none does, the most colourful. ``every``: steps between evaluations (0 = at every epoch
    end; the last step is always evaluated). ``chroma_gain``: > 0 fixes the gain; 0 calibrates it for each
    evaluation as shipping would: the smallest gain (1.00-2.00) whose colourfulness on ``calibrate_photos``
    training photos (drawn with seed 0, as ``scripts/calibrate_chroma.py --limit`` draws them; 0 = all) reaches ``calibrate_target`` x the originals'. ``degrade``:
    > 0 scores degraded gray inputs (old-print scans up to that severity, seed 0) instead of clean ones.
    With selection on, the lowest-loss checkpoint is kept as ``best_loss.pt`` and every evaluation is logged
    in ``selection.jsonl``; the gain is stored in ``best.pt``'s readout, as an export would ship it."""

    metric: str = ""
    every: int = 0
    min_colourfulness: float = 0.8
    render_size: int = 256
    size: int = 256
    limit: int = 0
    chroma_gain: float = 0.0
    calibrate_photos: int = 120  # as the shipped gain was chosen (scripts/calibrate_chroma.py --limit 120); 32 is noisy
    calibrate_target: float = 1.0
    degrade: float = 0.0

    def __post_init__(self) -> None:
        if self.metric and self.metric not in SELECTION_METRICS:
            raise ValueError(f"select.metric must be one of {', '.join(SELECTION_METRICS)} (or empty: off); got {self.metric!r}")
        for key in ("every", "limit", "calibrate_photos"):
            if getattr(self, key) < 0:
                raise ValueError(f"select.{key} must be >= 0, got {getattr(self, key)}")
        if self.size < 8 or self.render_size < 8:
            raise ValueError("select.size and select.render_size must be at least 8")
        if self.chroma_gain < 0 or self.min_colourfulness < 0 or not self.calibrate_target > 0:
            raise ValueError("select.chroma_gain and select.min_colourfulness must be >= 0, select.calibrate_target > 0")
        if not 0.0 <= self.degrade <= 1.0:
            raise ValueError(f"select.degrade must be in [0, 1], got {self.degrade}")

    @property
    def active(self) -> bool:
        return bool(self.metric)


@dataclass
class TrainConfig:
    """One training run. See ``configs/*.yaml`` for recipes."""

    name: str = ""  # run name (default: the model name)
    data: str = ""  # folder of colour photographs (searched recursively)
    val_fraction: float = 0.1  # share of `data` held out for validation (by path hash)
    val_data: str = ""  # a separate validation folder instead (then all of `data` trains)
    image_size: int = 64
    cache_size: int = 0  # stored square size; 0 = 5/4 of image_size
    cache_dir: str = ""  # "" = ~/.cache/chromatize/datasets
    task: str = "regression"  # a registered task: regression, hints, pix2pix (chromatize.train.tasks.TASKS)
    model: ModelConfig = field(default_factory=ModelConfig)
    init_from: str = ""  # checkpoint (.pt/.safetensors) of the same model to start from (fine-tuning)
    discriminator: ModelConfig = field(default_factory=lambda: ModelConfig("patchgan"))  # pix2pix only
    target: str = "lab"  # lab (predict ab) or rgb (predict sRGB)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    max_steps: int = 0  # > 0: stop after this many steps (overrides epochs)
    max_minutes: float = 0.0  # > 0: also stop once this much training time is spent (equal-budget comparisons)
    epoch_size: int = 0  # training images per epoch; 0 = one pass; more repeats the data (fresh augmentation)
    batch_size: int = 16
    seed: int = 0
    device: str = "auto"  # cpu, cuda, cuda:N, mps or auto (cuda, else mps, else cpu); under torchrun cuda = cuda:LOCAL_RANK
    accumulate: int = 1  # micro-batches of batch_size per optimiser step (gradient accumulation)
    clip_grad_norm: float = 0.0  # > 0: clip each optimiser's gradient norm to this
    amp: str = "off"  # mixed precision on CUDA: off, bf16 or fp16 (refused on cpu/mps)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over all ranks (SyncBatchNorm; CUDA only)
    lr_scaling: str = "none"  # optim.lr x none (1), linear (ranks x accumulate) or sqrt of it
    log_every: int = 50  # steps between loss read-backs from the device (NaN/inf check, progress bar)
    threads: int = 0  # torch CPU threads; 0 = torch's default
    num_workers: int = 0  # DataLoader worker processes
    channels_last: bool = True  # NHWC tensors: faster convolutions / pooling on CPU (oneDNN)
    checkpoint_every: int = 0  # steps between checkpoints/step_*.pt (0 = only at epoch ends)
    samples: int = 4  # val images shown in each samples/epoch_NNN.png
    progress: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    select: SelectConfig = field(default_factory=SelectConfig)  # checkpoint selection by an evaluation metric
    hints: HintSimConfig = field(default_factory=HintSimConfig)  # task hints: the simulated hints
    freeze: list[str] = field(default_factory=list)  # parameter-name prefixes of the model frozen at first
    freeze_epochs: int = 0  # epochs they stay frozen
    unfreeze_lr_scale: float = 1.0  # their learning rate, relative to optim.lr, once unfrozen

    def __post_init__(self) -> None:
        checks = {
            "target": (self.target, ("lab", "rgb")),
            "loss.name": (self.loss.name, ("mse", "l1", "huber")),
            "loss.gan": (self.loss.gan, ("vanilla", "lsgan")),
            "optim.name": (self.optim.name, tuple(OPTIMIZERS)),
            "optim.schedule": (self.optim.schedule, tuple(SCHEDULES)),
            "amp": (self.amp, tuple(AMP_DTYPES)),
            "lr_scaling": (self.lr_scaling, tuple(LR_SCALINGS)),
        }
        for key, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
        for key in ("image_size", "batch_size", "epochs", "accumulate", "log_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")

    @property
    def run_name(self) -> str:
        return self.name or self.model.name


def _convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` (from YAML) as type ``tp``; nested dataclasses from dicts; clear error otherwise."""
    if isinstance(value, _Override):
        value = value.text if tp is str else value.value
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be a mapping, got {value!r}")
        return _from_dict(tp, value, key + ".")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        items = value if isinstance(value, list) else [value]
        return [_convert(v, item_tp, key) for v in items]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be a mapping, got {value!r}")
        return _plain(dict(value))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key} must be true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a number, got {value!r}")
        if tp is int and value != int(value):
            raise ValueError(f"{key} must be an integer, got {value!r}")
        return tp(value)
    if tp is str:
        return "" if value is None else str(value)
    return _plain(value)


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(prefix + k for k in unknown)}; valid: {', '.join(sorted(names))}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if dataclasses.is_dataclass(hints[f.name]) and isinstance(value, dict) and f.default_factory is not dataclasses.MISSING:
            value = {**dataclasses.asdict(f.default_factory()), **value}  # a partial section keeps its defaults
        values[f.name] = _convert(value, hints[f.name], prefix + f.name)
    return cls(**values)


def config_from_dict(data: dict) -> TrainConfig:
    """A :class:`TrainConfig` from a nested dict (unknown keys raise :class:`ValueError`)."""
    return _from_dict(TrainConfig, data or {})


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain nested dict (YAML / JSON-able)."""
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``"a.b=value"`` strings to a nested dict (values parsed as YAML); returns a new dict."""
    data = yaml.safe_load(yaml.safe_dump(data or {}))  # deep copy
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} must look like key=value (e.g. optim.lr=3e-4)")
        value = _Override(read_yaml(raw), raw.strip()) if raw.strip() else ""
        parts = key.strip().split(".")
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML recipe (or start from defaults when ``path`` is None) and apply ``overrides``."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no config file at {path}")
        data = read_yaml(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config must be a YAML mapping")
    return config_from_dict(apply_overrides(data, overrides or []))


def dump_config(cfg: TrainConfig) -> str:
    """The resolved config as YAML text."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
