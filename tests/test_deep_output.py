"""16-bit in, 16-bit out: a photo of more than 8 bits is colorized and written at 16 bits in PNG and TIFF."""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from chromatize import color
from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.io import load_image
from chromatize.io16 import save_rgb16
from chromatize.registry import create_model


@pytest.fixture
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4)))


def ramp16(h=24, w=40):
    """A smooth 16-bit gray ramp: thousands of distinct levels, which 8 bits would merge."""
    return (np.linspace(2000, 60000, h * w).reshape(h, w)).astype(np.uint16)


def lightness(rgb):
    """sRGB uint8/uint16 [H,W,3] -> Lab L in [0,100]."""
    scale = 255.0 if rgb.dtype == np.uint8 else 65535.0
    t = torch.from_numpy(rgb.astype(np.float32) / scale).permute(2, 0, 1)
    return color.denormalize_l(color.rgb_to_l(t))[0].numpy()


@pytest.mark.parametrize("name", ["g16.png", "g16.tif"])
def test_a_16_bit_gray_scan_gives_a_16_bit_colour_result(tmp_path, model, name):
    gray = ramp16()
    if name.endswith(".png"):
        Image.fromarray(gray).save(tmp_path / name)
    else:
        tifffile.imwrite(tmp_path / name, gray)
    out = tmp_path / "out"
    assert main(["colorize", "-q", "--render-size", "16", "--model", model, str(tmp_path / name), "-o", str(out)]) == 0
    result = load_image(out / name).rgb
    assert result.dtype == np.uint16 and result.shape == (24, 40, 3)
    assert np.unique(result[..., 1]).size > 500  # not 8-bit levels scaled up
    # the output's L is the input's to 16-bit precision, far closer than 8-bit rounding allows
    assert np.abs(lightness(result) - lightness(np.repeat(gray[..., None], 3, axis=2))).max() < 0.02
    # other formats, and 8-bit inputs, stay 8-bit
    assert main(["colorize", "-q", "--render-size", "16", "--model", model, str(tmp_path / name),
                 "-o", str(tmp_path / "x.jpg")]) == 0
    assert load_image(tmp_path / "x.jpg").rgb.dtype == np.uint8
    Image.fromarray((gray // 257).astype(np.uint8)).save(tmp_path / "g8.png")
    assert main(["colorize", "-q", "--render-size", "16", "--model", model, str(tmp_path / "g8.png"),
                 "-o", str(tmp_path / "y.png")]) == 0
    assert load_image(tmp_path / "y.png").rgb.dtype == np.uint8


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_save_rgb16_round_trips_colour_and_alpha(tmp_path, rng, suffix):
    rgb = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    alpha = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    loaded = load_image(save_rgb16(rgb, tmp_path / f"c{suffix}", alpha=alpha))
    assert np.array_equal(loaded.rgb, rgb) and np.array_equal(loaded.alpha, alpha)
    with pytest.raises(ValueError, match="would overwrite an input"):
        save_rgb16(rgb, tmp_path / f"c{suffix}", protect=[tmp_path / f"c{suffix}"])
    with pytest.raises(ValueError, match="16 bits"):
        save_rgb16(rgb, tmp_path / "c.jpg")
