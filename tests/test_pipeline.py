import numpy as np
import pytest
import torch
from PIL import Image

from chromatize import color
from chromatize.checkpoint import save_checkpoint
from chromatize.inference import core, pipeline
from chromatize.checkpoint import resolve_weights, weights_header
from chromatize.inference.pipeline import Colorizer
from chromatize.registry import create_model


def tiny(target="lab"):
    return create_model("baseline", width=4, target=target)


def lab_of(rgb_uint8_or_float):
    rgb = rgb_uint8_or_float.astype(np.float32) / (255.0 if rgb_uint8_or_float.dtype == np.uint8 else 1.0)
    return color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)).numpy()


@pytest.mark.parametrize("shape", [(17, 23), (3, 2000), (2000, 3), (1, 1), (31, 64)])
@pytest.mark.parametrize("target", ["lab", "rgb"])
def test_same_size_and_same_L(rng, shape, target):
    rgb = rng.random((*shape, 3), dtype=np.float32)
    # A random-init lab model predicts wild chroma: gamut mapping must still keep L.
    out = Colorizer(tiny(target), render_size=32).colorize_array(rgb, saturation=3.0)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8
    assert np.abs(lab_of(out)[0] - lab_of(rgb)[0]).max() < 0.5  # 8-bit rounding only


def test_saturation_zero_is_gray_and_more_is_more_vivid(rng):
    rgb = np.repeat(rng.random((40, 30, 1), dtype=np.float32) * 0.6 + 0.2, 3, axis=2)
    c = Colorizer(tiny(), render_size=32)
    chroma = {s: np.hypot(*lab_of(c.colorize_array(rgb, saturation=s))[1:]).mean() for s in (0.0, 0.3, 1.0)}
    assert chroma[0.0] < 1.0
    assert chroma[0.0] < chroma[0.3] < chroma[1.0]


def test_strips_give_the_same_result_as_one_pass(rng, monkeypatch):
    rgb = rng.random((45, 38, 3), dtype=np.float32)
    c = Colorizer(tiny(), render_size=16)
    whole = c.colorize_array(rgb)
    monkeypatch.setattr(core, "STRIP_PIXELS", 7 * 38)
    assert np.abs(c.colorize_array(rgb).astype(int) - whole).max() <= 1


def test_uint8_uint16_and_float_inputs_agree(rng):
    rgb8 = rng.integers(0, 256, (20, 26, 3), dtype=np.uint8)
    c = Colorizer(tiny(), render_size=16)
    a = c.colorize_array(rgb8)
    b = c.colorize_array(rgb8.astype(np.float32) / 255.0)
    d = c.colorize_array(rgb8.astype(np.uint16) * 257)
    assert np.abs(a.astype(int) - b).max() <= 1 and np.abs(a.astype(int) - d).max() <= 1


def test_sixteen_bit_precision_reaches_L():
    # A smooth 16-bit ramp spanning 2 8-bit levels: the output's L must follow the 16-bit input
    # better than an 8-bit copy of it could (its L has only 3 values).
    ramp = np.linspace(100 * 257, 102 * 257, 64).astype(np.uint16)
    rgb16 = np.broadcast_to(ramp[None, :, None], (4, 64, 3))
    out = Colorizer(tiny(), render_size=16).colorize_array(rgb16, saturation=0.0)
    assert out.shape == (4, 64, 3)
    L_true = lab_of(rgb16.astype(np.float32) / 65535)[0]
    L_out = lab_of(out)[0]
    assert np.abs(L_out - L_true).max() < 0.5


def test_colorize_keeps_alpha_and_mode(rng):
    rgba = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    out = Colorizer(tiny(), render_size=16).colorize(Image.fromarray(rgba, "RGBA"))
    assert out.mode == "RGBA" and out.size == (13, 9)
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])


def test_keep_l_gamut_mapping_leaves_in_gamut_colours_alone():
    L = torch.rand(1, 1, 32, 32) * 1.2 - 0.6
    ab = torch.randn(1, 2, 32, 32) * 0.1
    from kornia.color import lab_to_rgb

    raw = lab_to_rgb(torch.cat([color.denormalize_l(L), color.denormalize_ab(ab)], 1), clip=False)
    inside = ((raw >= 0) & (raw <= 1)).all(1)
    mapped = color.l_ab_to_rgb_keep_l(L, ab)
    assert inside.float().mean() > 0.5
    assert (mapped - raw).abs().amax(1)[inside].max() < 1e-5
    assert (color.rgb_to_l_ab(mapped)[0] - L).abs().max() * color.L_SCALE < 1e-2


def test_from_pretrained_path_and_unknown_name(tmp_path):
    path = save_checkpoint(tmp_path / "tiny.safetensors", tiny())
    c = Colorizer.from_pretrained(path, render_size=16)
    assert c.colorize_array(np.zeros((5, 7, 3), np.float32)).shape == (5, 7, 3)
    with pytest.raises(FileNotFoundError, match="no shipped model 'nope'"):
        resolve_weights("nope")


def test_weights_header_reads_metrics(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny(), metrics={"psnr": 21.5})
    header = weights_header(path)
    assert header["arch"]["name"] == "baseline" and header["metrics"] == {"psnr": 21.5}


def test_gray_array_keeps_L_and_drops_chroma(rng):
    rgb = rng.random((7, 9, 3), dtype=np.float32)
    lab = lab_of(pipeline.gray_array(rgb))
    assert np.abs(lab[0] - lab_of(rgb)[0]).max() < 0.5 and np.abs(lab[1:]).max() < 1.0


def test_rgb_to_l_matches_the_full_conversion():
    rgb = torch.rand(2, 3, 16, 16)
    rgb[0, :, 0, :3] = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.01, 0.01, 0.01]]).T
    assert (color.rgb_to_l(rgb) - color.rgb_to_l_ab(rgb)[0]).abs().max() < 1e-5


def test_sepia_scan_is_colorized_from_its_luminance_only(rng):
    L = torch.rand(1, 1, 24, 30) * 1.6 - 0.8
    sepia_ab = torch.stack([torch.full((24, 30), 0.06), torch.full((24, 30), 0.15)])[None]
    sepia = color.l_ab_to_rgb_keep_l(L, sepia_ab)[0].permute(1, 2, 0).numpy()
    gray = color.l_ab_to_rgb_keep_l(L, torch.zeros_like(sepia_ab))[0].permute(1, 2, 0).numpy()
    c = Colorizer(tiny(), render_size=16)
    assert np.abs(c.colorize_array(sepia).astype(int) - c.colorize_array(gray)).max() <= 2


def test_gray_view_input_matches_full_rgb(rng):
    g = rng.integers(0, 256, (21, 17), dtype=np.uint8)
    c = Colorizer(tiny(), render_size=16)
    view = np.broadcast_to(g[..., None], (21, 17, 3))
    assert np.array_equal(c.colorize_array(view), c.colorize_array(np.repeat(g[..., None], 3, 2)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_turned_views_as_read_from_rotated_files(rng, dtype):
    base = (rng.random((12, 9, 3)) * (1 if dtype == np.float32 else np.iinfo(dtype).max)).astype(dtype)
    c = Colorizer(tiny(), render_size=16)
    for view in (base[::-1, ::-1], np.rot90(base, -1), np.broadcast_to(base[::-1, :, :1], base.shape)):
        assert np.array_equal(c.colorize_array(view), c.colorize_array(np.ascontiguousarray(view)))


def test_mirrored_border_removes_edge_effects():
    # A zero-padded box filter sees less signal at the image edges: the pipeline's mirrored border must
    # hide that (a flat input then gives a flat prediction), and border=0 must show it.
    from torch import nn

    probe = nn.Conv2d(1, 2, 5, padding=2, bias=False)
    nn.init.constant_(probe.weight, 0.02)
    probe.chromatize_info = tiny().chromatize_info
    L = torch.full((1, 1, 20, 28), 0.5)
    flat = Colorizer(probe, render_size=32).predict_ab(L)
    edged = Colorizer(probe, render_size=32, border=0).predict_ab(L)
    assert flat.shape == edged.shape == (1, 2, 20, 28)
    assert torch.allclose(flat, flat[0, 0, 10, 14])
    assert edged[0, 0, 0, 0] < 0.5 * edged[0, 0, 10, 14]
    with pytest.raises(ValueError, match="border"):
        Colorizer(tiny(), border=-1)
