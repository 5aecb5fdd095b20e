"""EXIF (description, dates, camera), DPI and ICC profile go from a photo to its colour version."""

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.io import load_image
from chromatize.registry import create_model

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
EXIF_IFD = 0x8769


@pytest.fixture
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4)))


def exif(orientation=6):
    e = Image.Exif()
    e[270], e[271], e[272], e[274] = "Harbour, 1952", "Leica", "IIIf", orientation
    e[EXIF_IFD] = {36867: "1952:07:14 10:30:00"}
    return e.tobytes()


def colorize(model, src, dst):
    assert main(["colorize", "-q", "--render-size", "16", "--model", model, str(src), "-o", str(dst)]) == 0


def check(path, *, camera_only=False):
    with Image.open(path) as im:
        e = im.getexif()
        assert e[270] == "Harbour, 1952" and e[271] == "Leica" and e[272] == "IIIf"
        if not camera_only:
            assert e[274] == 1  # applied, so reset to normal
            assert e.get_ifd(EXIF_IFD)[36867] == "1952:07:14 10:30:00"
        assert im.info["icc_profile"] == SRGB
        if im.format != "WEBP":
            assert tuple(round(v) for v in im.info["dpi"]) == (300, 600)
        return im.size


@pytest.mark.parametrize("fmt", ["jpg", "png", "tif", "webp"])
def test_exif_dpi_and_icc_are_kept_and_orientation_reset(tmp_path, model, fmt):
    src = tmp_path / "scan.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (10, 16), dtype=np.uint8), "L").convert("RGB").save(
        src, exif=exif(), icc_profile=SRGB, dpi=(300, 600))
    colorize(model, src, tmp_path / f"out.{fmt}")
    assert check(tmp_path / f"out.{fmt}") == (10, 16)  # turned upright


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_16_bit_outputs_keep_them_too(tmp_path, model, fmt):
    src = tmp_path / "scan16.tif"
    gray = np.linspace(0, 65535, 12 * 20).reshape(12, 20).astype(np.uint16)
    e = Image.Exif()
    e.load(exif(orientation=1))
    tifffile.imwrite(src, gray, resolution=(300, 600), resolutionunit="INCH", iccprofile=SRGB, metadata=None,
                     description=e[270], extratags=[(271, "s", 0, "Leica", True), (272, "s", 0, "IIIf", True)])
    colorize(model, src, tmp_path / f"out.{fmt}")
    assert load_image(tmp_path / f"out.{fmt}").rgb.dtype == np.uint16
    check(tmp_path / f"out.{fmt}", camera_only=True)


def test_tiff_layout_tags_and_gray_profiles_are_not_carried(tmp_path, model):
    src = tmp_path / "scan.tif"
    gray_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src, exif=exif(1), icc_profile=gray_icc, dpi=(300, 300))
    colorize(model, src, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as im:
        e = im.getexif()
        assert e[270] == "Harbour, 1952" and not {256, 257, 258, 273, 279} & set(e)
        assert "icc_profile" not in im.info or im.info["icc_profile"] in (None, b"")


def test_an_exif_block_too_big_for_jpeg_is_left_out_not_the_photo(tmp_path, model):
    src = tmp_path / "big.tif"
    e = Image.Exif()
    e[270] = "x" * 70_000  # fits a TIFF, not a JPEG's one 64 KiB segment
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(src, exif=e.tobytes())
    colorize(model, src, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as im:
        assert im.size == (8, 8) and 270 not in im.getexif()
