"""Hints from a colour reference photo: the matcher finds the right colours, and Reinhard's transfer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chromatize.color import rgb_to_l_ab
from chromatize.inference.core import render_l
from chromatize.inference.reference import reference_guide, reference_hints, reinhard_transfer

data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def encoder():
    from chromatize.models.mobilenet import mobilenet_encoder

    try:
        return mobilenet_encoder(pretrained=True).eval()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        pytest.skip(str(e))


def photo(size: int = 256) -> torch.Tensor:
    """scikit-image's astronaut (a held-out sample, never trained on), sRGB float [1,3,size,size]."""
    rgb = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return torch.nn.functional.interpolate(rgb, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def partial_mirrored(rgb: torch.Tensor) -> torch.Tensor:
    """Top-left 65 % x 65 %, mirrored, enlarged 1.25x: the evaluation's partial reference."""
    h, w = rgb.shape[-2:]
    crop = rgb[..., : round(0.65 * h), : round(0.65 * w)].flip(-1)
    return torch.nn.functional.interpolate(crop, scale_factor=1.25, mode="bilinear", align_corners=False).clamp(0, 1)


def test_hints_from_a_partial_mirrored_reference_carry_the_true_colours(encoder):
    rgb = photo()
    L, ab = rgb_to_l_ab(rgb)
    hints = reference_hints(encoder, render_l(L, (256, 256)), partial_mirrored(rgb))
    mask = hints[0, 2] > 0
    assert mask.sum() >= 20 * 25  # at least 20 hints of 5x5 px
    err = (hints[0, :2] - ab[0]).norm(dim=0)[mask]
    assert err.median() < 0.06  # normalised ab (x110: about 6.6 ab units)
    rows, cols = torch.nonzero(mask, as_tuple=True)
    assert rows.float().mean() < 0.55 * 256 and cols.float().mean() < 0.55 * 256  # where the reference shows


def test_another_print_of_the_same_photo_is_aligned_and_gives_its_own_colours(encoder):
    rgb = photo()
    L, ab = rgb_to_l_ab(rgb)
    L_small = render_l(L, (256, 256))
    smaller = torch.nn.functional.interpolate(rgb, scale_factor=0.8, mode="bilinear", antialias=True, align_corners=False)
    for reference, coverage in ((smaller, 0.9), (partial_mirrored(rgb), 0.3)):
        guide = reference_guide(encoder, L_small, reference)
        covered = guide.weight[0, 0] > 0.99
        assert covered.float().mean() > coverage  # the whole photo, or the part the reference shows
        err = (guide.ab[0] - ab[0]).norm(dim=0)[covered] * 110
        assert err.median() < 3.0  # ab units: the reference's own colours, in the right places


def test_a_reference_of_another_scene_is_not_aligned(encoder):
    rgb = photo()
    L, _ = rgb_to_l_ab(rgb)
    other = torch.from_numpy(data.coffee()).permute(2, 0, 1)[None].float() / 255
    guide = reference_guide(encoder, render_l(L, (256, 256)), other)
    assert guide.weight.max() == 0


def test_tiny_photos_and_references_give_no_hints(encoder):
    L = torch.zeros(1, 1, 6, 6)
    assert reference_hints(encoder, L, torch.rand(1, 3, 50, 50)).abs().sum() == 0
    assert reference_hints(encoder, torch.zeros(1, 1, 64, 64), torch.rand(1, 3, 4, 400)).abs().sum() == 0


def test_reinhard_transfer_matches_mean_and_spread():
    ab = torch.randn(1, 2, 30, 30) * 0.1
    ref = torch.randn(1, 2, 20, 25) * 0.3 + torch.tensor([0.2, -0.1]).view(1, 2, 1, 1)
    out = reinhard_transfer(ab, ref)
    assert torch.allclose(out.mean((2, 3)), ref.mean((2, 3)), atol=1e-5)
    assert torch.allclose(out.std((2, 3)), ref.std((2, 3)), atol=1e-4)


def test_an_onnx_hint_colorizer_matches_references_with_its_checkpoints_encoder(monkeypatch):
    pytest.importorskip("onnxruntime")
    import chromatize.models.mobilenet as mobilenet
    from chromatize.inference.pipeline import Colorizer

    def no_package(*args, **kwargs):  # a plain install: no ImageNet weights package
        raise ModuleNotFoundError("no ImageNet weights package here")

    monkeypatch.setattr(mobilenet, "imagenet_weights_path", no_package)
    colorizer = Colorizer.from_pretrained("hints", backend="onnx")
    encoder = colorizer.reference_encoder()
    assert encoder is colorizer.reference_encoder()  # built once
    shipped = Colorizer.from_pretrained("hints", backend="torch").model.encoder.state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in encoder.state_dict().items())
    gray = (np.asarray(data.camera())[..., None].repeat(3, 2)).astype(np.uint8)
    assert colorizer.colorize_array(gray, reference=data.astronaut()).shape == gray.shape


def test_a_colorizer_without_an_encoder_or_the_package_refuses_a_reference_in_one_line(monkeypatch):
    import chromatize.models.mobilenet as mobilenet
    from chromatize.inference.pipeline import Colorizer
    from chromatize.registry import create_model

    def no_package(*args, **kwargs):
        raise ModuleNotFoundError("no ImageNet weights package here")

    monkeypatch.setattr(mobilenet, "imagenet_weights_path", no_package)
    colorizer = Colorizer(create_model("unet_hints", base=4, levels=3), render_size=32)
    with pytest.raises(ValueError, match="ImageNet MobileNetV2 features, which model 'unet_hints' cannot give here"):
        colorizer.colorize_array(np.zeros((32, 32, 3), np.uint8), reference=np.ones((32, 32, 3), np.float32))
