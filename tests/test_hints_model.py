"""The shipped hint model: how far a hint reaches, the zero-hint result, and the reference path end to end."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from chromatize.color import rgb_to_l_ab
from chromatize.hints import Hint
from chromatize.inference.pipeline import Colorizer

WEIGHTS = os.environ.get("CHROMATIZE_HINTS_WEIGHTS", "hints")


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer.from_pretrained(WEIGHTS, backend="torch")


def two_regions(size: int = 256) -> Image.Image:
    """Left: a flat light wall; right: a dark, striped region of different content."""
    rng = np.random.default_rng(0)
    img = np.full((size, size), 185.0)
    x = np.arange(size)
    img[:, size // 2 :] = 60 + 30 * (np.sin(x[size // 2 :] / 3.0) > 0)
    img += rng.normal(0, 2, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


def ab(image: Image.Image) -> torch.Tensor:
    rgb = torch.from_numpy(np.asarray(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    return rgb_to_l_ab(rgb)[1][0] * 110  # Lab units


def test_a_hint_recolours_its_region_and_leaves_distant_different_content_nearly_unchanged(colorizer):
    photo = two_regions()
    plain = ab(colorizer.colorize(photo))
    hinted = ab(colorizer.colorize(photo, hints=[Hint(64, 128, "#c01010", radius=6)]))
    change = (hinted - plain).norm(dim=0)
    near = change[32:224, 8:120].mean()  # the flat region around the hint
    far = change[:, 200:].mean()  # the other region, beyond its edge
    print(f"mean ab change: hinted region {near:.1f}, distant region {far:.1f}")
    assert near > 15, f"the hint barely spread over its own region ({near:.1f} ab units)"
    assert far < 0.25 * near and far < 5, f"the hint leaked into the distant region ({far:.1f} vs {near:.1f})"
    assert hinted[0, 100:156, 30:100].mean() > 10  # and it is red there (a > 0)


def test_without_hints_it_is_an_automatic_colorizer(colorizer):
    photo = two_regions(128)
    out = colorizer.colorize(photo)
    assert out.size == photo.size
    assert colorizer.takes_hints and colorizer.readout.inputs == ("L", "hints", "hint_prior")


def test_a_partial_mirrored_reference_beats_the_automatic_result(colorizer):
    from skimage import data

    from chromatize.evaluate.data import gray_input
    from chromatize.metrics import psnr
    from test_reference import partial_mirrored

    original = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.Resampling.BICUBIC), np.float32) / 255
    gray8 = (gray_input(original) * 255 + 0.5).astype(np.uint8)
    ref = partial_mirrored(torch.from_numpy(original).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    automatic = colorizer.colorize_array(gray8) / 255.0
    guided = colorizer.colorize_array(gray8, reference=ref) / 255.0
    gain = psnr(guided.astype(np.float32), original) - psnr(automatic.astype(np.float32), original)
    print(f"reference: {gain:+.2f} dB over automatic")
    assert gain > 1.0
