"""The tensor core under Colorizer: same output as the former per-image implementation, batches, inputs, devices."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from chromatize.checkpoint import shipped_weights
from chromatize.inference import core
from chromatize.devices import resolve_device
from chromatize.inference.pipeline import Colorizer
from chromatize.io import load_image
from chromatize.registry import create_model
from legacy_pipeline import LegacyColorizer

needs_default = pytest.mark.skipif("default" not in shipped_weights(), reason="no shipped default weights")


@pytest.fixture(scope="module")
def shipped():
    new = Colorizer.from_pretrained("default", backend="torch")
    old = LegacyColorizer(new.model, render_size=256, border=32, chroma_gain=new.chroma_gain)
    return new, lambda rgb: old.apply_chroma(rgb, old.predict_chroma(rgb))


@pytest.fixture(scope="module")
def photo():
    return load_image("examples/cameraman.jpg").rgb  # gray: one channel seen three times


def _gray(plane):
    return np.broadcast_to(plane[..., None], (*plane.shape, 3))


@needs_default
@pytest.mark.parametrize("case", ["whole", "odd", "sixteen_bit", "tiny", "upscaled", "rgb_copy"])
def test_output_equals_the_former_implementation_within_one_level(shipped, photo, case):
    g = photo[..., 0]
    rgb = {
        "whole": photo,
        "odd": photo[3:304, 11:468],
        "sixteen_bit": _gray(g[:200, :333].astype(np.uint16) * 257 + 100),
        "tiny": photo[:7, :5],
        "upscaled": _gray(np.asarray(Image.fromarray(g).resize((700, 650), Image.Resampling.BICUBIC))),
        "rgb_copy": np.repeat(g[:180, :250, None], 3, axis=2),
    }[case]
    new, legacy = shipped
    diff = np.abs(new.colorize_array(rgb).astype(int) - legacy(rgb))
    assert diff.max() <= 1, f"max difference {diff.max()} levels"


@needs_default
def test_large_downscales_and_toned_scans_stay_close_to_the_former_implementation(shipped, photo):
    # Two documented differences: the former code box-filtered first for downscales of 3x and more (PIL's
    # reducing_gap), and resized a toned scan's RGB rather than its luminance. Both stay well under a level.
    new, legacy = shipped
    big = _gray(np.asarray(Image.fromarray(photo[..., 0]).resize((1600, 1200), Image.Resampling.BICUBIC)))
    sepia = (photo[:300, :300].astype(np.float32) * np.array([1.0, 0.85, 0.65], np.float32)).astype(np.uint8)
    for rgb in (big, sepia):
        diff = np.abs(new.colorize_array(rgb).astype(int) - legacy(rgb))
        assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 3


def tiny():
    return create_model("baseline", width=4)


def test_a_batch_equals_its_images_one_by_one(rng):
    c = Colorizer(tiny(), render_size=32)
    frames = [rng.integers(0, 256, (24, 40, 3), dtype=np.uint8) for _ in range(3)]
    odd = rng.integers(0, 256, (17, 9, 3), dtype=np.uint8)
    batch = c.colorize_batch([frames[0], odd, frames[1], frames[2]])
    singles = [c.colorize_array(x) for x in (frames[0], odd, frames[1], frames[2])]
    assert [b.shape for b in batch] == [s.shape for s in singles]
    assert all(np.abs(b.astype(int) - s).max() <= 1 for b, s in zip(batch, singles))


def test_tensor_core_keeps_shapes_and_returns_channels_last_uint8():
    c = Colorizer(tiny(), render_size=16)
    L = torch.rand(2, 1, 30, 21) * 2 - 1
    ab = c.predict_ab(c.render_tensor(L, c.render_size))
    assert ab.shape == (2, 2, *c.render_shape(30, 21, 16)) and ab.dtype == torch.float32
    out = c.compose_tensor(L, ab, 0.0)
    assert out.shape == (2, 3, 30, 21) and out.dtype == torch.uint8
    assert out[1].permute(1, 2, 0).is_contiguous()
    assert (out.int().amax(1) - out.int().amin(1)).max() <= 1  # saturation 0: gray


class HintEcho(nn.Module):
    """Returns the hint channels as ab: shows which tensors the core passes to a network declaring hints."""

    size_multiple = 1

    def forward(self, L, hints):
        assert L.shape[1] == 1 and hints.shape[1] == 3
        return hints[:, :2] * hints[:, 2:]


def test_declared_inputs_are_passed_and_default_to_none_given():
    from chromatize.registry import ModelInfo

    model = HintEcho()
    model.chromatize_info = ModelInfo("hint_echo", inputs=("L", "hints"))
    c = Colorizer(model, render_size=16, border=4)
    L = torch.zeros(1, 1, 16, 16)
    assert c.predict_ab(L).abs().max() == 0  # no hints given: zeros
    hints = torch.zeros(1, 3, 16, 16)
    hints[0, :, 5, 7] = torch.tensor([0.3, -0.2, 1.0])
    ab = c.predict_ab(L, {"hints": hints})
    assert torch.allclose(ab[0, :, 5, 7], torch.tensor([0.3, -0.2])) and ab.abs().sum() == pytest.approx(0.5)


def test_render_size_and_devices_are_checked_up_front():
    with pytest.raises(ValueError, match="at most"):
        Colorizer(tiny(), render_size=100_000)
    with pytest.raises(ValueError, match="at least"):
        Colorizer(tiny(), render_size=4)
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("nonsense")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            Colorizer(tiny(), device="cuda")


def test_render_l_resizes_in_strips_like_one_pass(monkeypatch):
    L = torch.rand(1, 1, 50, 64) * 2 - 1
    whole = core.render_l(L, (20, 26))
    monkeypatch.setattr(core, "STRIP_PIXELS", 64 * 3)
    assert torch.equal(core.render_l(L, (20, 26)), whole)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_core_matches_cpu(rng):
    rgb = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)
    model = tiny()
    cpu = Colorizer(model, render_size=32).colorize_array(rgb)
    gpu = Colorizer(model, render_size=32, device="cuda").colorize_array(rgb)
    assert np.abs(cpu.astype(int) - gpu).max() <= 1


class LeftBias(nn.Module):
    """ab = L times a left-to-right ramp: not mirror-symmetric, so flip averaging shows."""

    size_multiple = 1

    def forward(self, L):
        ramp = torch.linspace(0, 1, L.shape[-1], device=L.device)
        return torch.cat([L * ramp, -L * ramp], dim=1)


def test_flip_averaging_averages_with_the_mirrored_prediction(tmp_path):
    from chromatize.registry import ModelInfo

    model = LeftBias()
    model.chromatize_info = ModelInfo("left_bias")
    L = torch.rand(2, 1, 6, 10) * 2 - 1
    plain = Colorizer(model, render_size=10, border=0).predict_ab(L)
    flipped = Colorizer(model, render_size=10, border=0, flip=True).predict_ab(L)
    mirror = Colorizer(model, render_size=10, border=0).predict_ab(L.flip(-1)).flip(-1)
    assert torch.allclose(flipped, 0.5 * (plain + mirror), atol=1e-6) and not torch.allclose(flipped, plain)
