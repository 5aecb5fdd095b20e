import numpy as np
import pytest
from PIL import Image, ImageOps

from chromatize import io
from chromatize.io import ImageReadError, ImageTooLargeError, load_image, save_image


def pattern(h=6, w=10):
    """A uint8 RGB image whose every pixel differs, so any flip or turn shows."""
    v = np.arange(h * w * 3, dtype=np.uint32).reshape(h, w, 3)
    return (v * 7 % 256).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp", ".webp", ".jpg"])
def test_formats_round_trip(tmp_path, suffix):
    rgb = np.repeat(np.linspace(0, 255, 24, dtype=np.uint8)[None, :, None], 3, 2).repeat(8, 0)
    path = save_image(Image.fromarray(rgb), tmp_path / f"a{suffix}")
    loaded = load_image(path)
    assert loaded.rgb.shape == (8, 24, 3) and loaded.rgb.dtype == np.uint8 and loaded.alpha is None
    lossless = suffix in (".png", ".tif", ".bmp")
    assert np.abs(loaded.rgb.astype(int) - rgb).max() <= (0 if lossless else 12)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path, orientation):
    img = Image.fromarray(pattern())
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(tmp_path / "o.png", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")).convert("RGB"))
    loaded = load_image(tmp_path / "o.png").rgb
    assert np.array_equal(loaded, expected)
    assert loaded.shape[:2] == ((6, 10) if orientation < 5 else (10, 6))
    # the numpy turn used for 16-bit files is the same transform
    assert np.array_equal(io._orient_arrays(pattern(), None, orientation)[0], expected)


def test_exif_rotation_of_a_jpeg(tmp_path):
    img = Image.new("RGB", (40, 20), "white")
    img.paste((0, 0, 0), (0, 0, 10, 10))  # dark top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: turn 90 degrees clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    rgb = load_image(tmp_path / "r.jpg").rgb
    assert rgb.shape == (40, 20, 3)
    assert rgb[:10, -10:].mean() < 40 and rgb[:10, :10].mean() > 200  # corner now at top right


def test_sixteen_bit_gray_png_keeps_precision(tmp_path):
    g = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000 + 3)
    Image.fromarray(g).save(tmp_path / "g16.png")
    rgb = load_image(tmp_path / "g16.png").rgb
    assert rgb.dtype == np.uint16 and rgb.shape == (6, 8, 3)
    assert np.array_equal(rgb[..., 0], g) and np.array_equal(rgb[..., 2], g)


def write_png16(path, arr):
    import png

    h, w, planes = arr.shape
    with open(path, "wb") as f:
        png.Writer(w, h, bitdepth=16, greyscale=planes < 3, alpha=planes in (2, 4)).write(f, arr.reshape(h, w * planes))


def test_sixteen_bit_rgb_and_rgba_png(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 65536, (5, 7, 4), dtype=np.uint16)
    write_png16(tmp_path / "c16.png", rgba[..., :3])
    with Image.open(tmp_path / "c16.png") as pillow_view:
        assert pillow_view.mode == "RGB"  # Pillow alone would drop to 8 bits
    loaded = load_image(tmp_path / "c16.png")
    assert loaded.rgb.dtype == np.uint16 and np.array_equal(loaded.rgb, rgba[..., :3]) and loaded.alpha is None
    write_png16(tmp_path / "a16.png", rgba)
    loaded = load_image(tmp_path / "a16.png")
    assert np.array_equal(loaded.rgb, rgba[..., :3])
    assert np.abs(loaded.alpha.astype(int) - rgba[..., 3] / 257).max() <= 0.5


def test_sixteen_bit_rgb_tiff_with_orientation(tmp_path):
    import tifffile

    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", rgb, photometric="rgb", compression="zlib",
                     extratags=[(274, "H", 1, 6, False)])
    loaded = load_image(tmp_path / "c16.tif")
    assert loaded.rgb.dtype == np.uint16 and np.array_equal(loaded.rgb, np.rot90(rgb, -1))


def test_float_tiff(tmp_path):
    f = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    rgb = load_image(tmp_path / "f.tif").rgb
    assert rgb.dtype == np.float32 and np.allclose(rgb[..., 1], f)


def test_palette_cmyk_la_and_bilevel(tmp_path):
    p = Image.fromarray(pattern()).convert("P")
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    loaded = load_image(tmp_path / "p.png")
    assert loaded.rgb.shape == (6, 10, 3) and loaded.alpha is not None and (loaded.alpha == 0).any()
    Image.fromarray(pattern()).convert("CMYK").save(tmp_path / "c.jpg")
    assert load_image(tmp_path / "c.jpg").rgb.shape == (6, 10, 3)
    la = Image.merge("LA", [Image.fromarray(pattern()[..., 0]), Image.fromarray(pattern()[..., 1])])
    la.save(tmp_path / "la.png")
    loaded = load_image(tmp_path / "la.png")
    assert np.array_equal(loaded.alpha, pattern()[..., 1]) and np.array_equal(loaded.rgb[..., 0], pattern()[..., 0])
    Image.fromarray(pattern()[..., 0] > 100).save(tmp_path / "b.png")
    assert set(np.unique(load_image(tmp_path / "b.png").rgb)) <= {0, 255}


def test_alpha_round_trip_and_jpeg_flattens_on_white(tmp_path):
    rgba = pattern()
    alpha = np.tile(np.array([0, 128, 255], np.uint8), 20)[:60].reshape(6, 10)
    img = Image.fromarray(np.dstack([rgba, alpha]), "RGBA")
    save_image(img, tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert np.array_equal(loaded.alpha, alpha) and np.array_equal(loaded.rgb, rgba)
    save_image(img, tmp_path / "a.jpg")
    flat = load_image(tmp_path / "a.jpg")
    assert flat.alpha is None and flat.rgb[alpha == 0].mean() > 200


def test_pixel_limit_names_the_file(tmp_path, monkeypatch):
    Image.new("L", (20, 20)).save(tmp_path / "big.png")
    with pytest.raises(ImageTooLargeError, match="big.png: 20x20 = 400 pixels exceeds the limit of 100") as e:
        load_image(tmp_path / "big.png", max_pixels=100)
    assert e.value.path == tmp_path / "big.png"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # Pillow's own bomb guard becomes our error too
    with pytest.raises(ImageTooLargeError, match="big.png"):
        load_image(tmp_path / "big.png", max_pixels=None)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_truncated_file_is_a_clear_error(tmp_path, suffix):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"t{suffix}")
    data = (tmp_path / f"t{suffix}").read_bytes()
    (tmp_path / f"t{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=f"t\\{suffix}"):
        load_image(tmp_path / f"t{suffix}")


def test_corrupt_and_missing_files(tmp_path):
    (tmp_path / "junk.jpg").write_bytes(b"this is not a JPEG at all" * 10)
    with pytest.raises(ImageReadError, match="junk.jpg.*not an image"):
        load_image(tmp_path / "junk.jpg")
    with pytest.raises(ImageReadError, match="missing.png: no such file"):
        load_image(tmp_path / "missing.png")


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old result")

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(Image.new("RGB", (4, 4)), target)
    with pytest.raises(OSError):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "new.png")
    assert target.read_bytes() == b"old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_save_refuses_an_input_and_unknown_format(tmp_path):
    src = tmp_path / "in.png"
    Image.new("RGB", (4, 4), "red").save(src)
    before = src.read_bytes()
    with pytest.raises(ValueError, match="would overwrite an input"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "." / "in.png", protect=[src])
    assert src.read_bytes() == before
    with pytest.raises(ValueError, match="format"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "x.xyz")
    assert save_image(Image.new("RGB", (4, 4)), tmp_path / "x.out", format="jpg").read_bytes()[:2] == b"\xff\xd8"


def test_file_objects_read_like_paths(tmp_path):
    import io as stdio

    rgba = np.random.default_rng(3).integers(0, 65536, (5, 7, 4), dtype=np.uint16)
    write_png16(tmp_path / "a16.png", rgba)
    loaded = load_image(stdio.BytesIO((tmp_path / "a16.png").read_bytes()), name="upload.png")
    assert np.array_equal(loaded.rgb, rgba[..., :3]) and loaded.path.name == "upload.png"
    with pytest.raises(ImageReadError, match="upload.jpg"):
        load_image(stdio.BytesIO(b"garbage"), name="upload.jpg")


def test_truncated_sixteen_bit_png(tmp_path):
    rgb = np.random.default_rng(4).integers(0, 65536, (40, 40, 3), dtype=np.uint16)
    write_png16(tmp_path / "t16.png", rgb)
    data = (tmp_path / "t16.png").read_bytes()
    (tmp_path / "t16.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="t16.png: corrupt or truncated"):
        load_image(tmp_path / "t16.png")
