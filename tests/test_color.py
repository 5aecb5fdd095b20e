import numpy as np
import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from chromatize import color

EDGE = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1], [0.5, 0.5, 0.5]]


def _images() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    rand = torch.rand(2, 3, 8, 10, generator=g, dtype=torch.float64)
    rand[0, :, 0, : len(EDGE)] = torch.tensor(EDGE, dtype=torch.float64).T
    return rand


def test_rgb_to_lab_matches_skimage():
    rgb = _images()
    ours = color.rgb_to_lab(rgb).permute(0, 2, 3, 1).numpy()
    ref = rgb2lab(rgb.permute(0, 2, 3, 1).numpy(), channel_axis=-1)
    assert np.abs(ours - ref).max() < 1e-3


def test_lab_to_rgb_matches_skimage_and_round_trips():
    rgb = _images()
    lab = color.rgb_to_lab(rgb)
    back = color.lab_to_rgb(lab)
    assert (back - rgb).abs().max() < 1e-6
    ref = lab2rgb(lab.permute(0, 2, 3, 1).numpy(), channel_axis=-1)
    assert np.abs(back.permute(0, 2, 3, 1).numpy() - ref).max() < 1e-3


def test_float32_within_tolerance():
    rgb = _images()
    ours = color.rgb_to_lab(rgb.float()).double().permute(0, 2, 3, 1).numpy()
    ref = rgb2lab(rgb.permute(0, 2, 3, 1).numpy(), channel_axis=-1)
    assert np.abs(ours - ref).max() < 1e-3


def test_normalised_round_trip_and_ranges():
    rgb = _images()
    L, ab = color.rgb_to_l_ab(rgb)
    assert L.shape == (2, 1, 8, 10) and ab.shape == (2, 2, 8, 10)
    assert L.min() >= -1 - 1e-6 and L.max() <= 1 + 1e-6
    assert ab.abs().max() <= 128 / color.AB_SCALE
    assert (color.l_ab_to_rgb(L, ab) - rgb).abs().max() < 1e-6


def test_black_and_white_have_known_L():
    rgb = torch.tensor(EDGE[:2], dtype=torch.float64).T.reshape(3, 1, 2)
    L, ab = color.rgb_to_l_ab(rgb)
    assert L.flatten().tolist() == pytest.approx([-1.0, 1.0], abs=1e-4)
    assert ab.abs().max() < 1e-4


def test_gradients():
    rgb = (_images()[:1, :, :3, :3] * 0.8 + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: color.rgb_to_l_ab(x)[1], (rgb,), eps=1e-6, atol=1e-4)
    L = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    ab = (torch.rand(1, 2, 2, 2, dtype=torch.float64) * 0.2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: color.l_ab_to_rgb(L, a), (ab,), eps=1e-6, atol=1e-4)


def test_scale_chroma():
    ab = torch.tensor([0.5, -0.8]).reshape(1, 2, 1, 1)
    assert color.scale_chroma(ab, 0).abs().max() == 0
    assert torch.equal(color.scale_chroma(ab, 1), ab)
    assert color.scale_chroma(ab, 2).flatten().tolist() == [1.0, -1.0]
    with pytest.raises(ValueError):
        color.scale_chroma(ab, -1)


def test_gray_has_no_chroma_and_same_L():
    rgb = _images()
    gray = color.rgb_to_gray(rgb)
    assert (gray[:, 0] - gray[:, 1]).abs().max() < 1e-4
    assert (color.rgb_to_lab(gray)[:, 0] - color.rgb_to_lab(rgb)[:, 0]).abs().max() < 1e-3


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[...,3,H,W\]"):
        color.rgb_to_lab(torch.rand(1, 4, 2, 2))
    with pytest.raises(ValueError, match="differ in size"):
        color.l_ab_to_rgb(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 3, 3))
