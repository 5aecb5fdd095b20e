"""Each decision is made in one place: the same model and photo give the same pixels through ``colorize`` and
``evaluate``, and a run's settings are resolved once, within the caller's limits."""

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.evaluate.data import gray_input, load_original
from chromatize.evaluate.predictors import gray_scan, model_predictor
from chromatize.inference.pipeline import Colorizer, gray_plane
from chromatize.inference.settings import Limits, RunSettings
from chromatize.registry import create_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import torch

    torch.manual_seed(3)
    return str(save_checkpoint(tmp_path_factory.mktemp("m") / "m.safetensors", create_model("baseline", width=4)))


def test_colorize_and_evaluate_give_identical_pixels(tmp_path, model):
    rng = np.random.default_rng(0)
    colour = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    Image.fromarray(colour).save(tmp_path / "original.png")
    gray = gray_input(load_original(tmp_path / "original.png", None))
    Image.fromarray(np.ascontiguousarray(gray_scan(gray)[..., 0])).save(tmp_path / "scan.png")  # the user's scan
    assert main(["colorize", "-q", str(tmp_path / "scan.png"), "--model", model, "-o", str(tmp_path / "cli.png")]) == 0
    by_cli = np.asarray(Image.open(tmp_path / "cli.png").convert("RGB"))
    by_evaluate = np.round(model_predictor(model)(gray) * 255.0).astype(np.uint8)
    assert np.ptp(by_cli.astype(int), axis=2).max() > 2  # coloured, not a gray echo
    assert np.array_equal(by_cli, by_evaluate)


def test_gray_is_detected_one_way_for_photos_frames_and_scans():
    plane = np.arange(60, dtype=np.uint8).reshape(6, 10)
    broadcast = np.broadcast_to(plane[..., None], (6, 10, 3))  # a gray file as load_image reads it
    frame = np.repeat(plane[..., None], 3, axis=2)  # a black-and-white film frame as it decodes
    colour = frame.copy()
    colour[5, 9, 2] += 1  # one pixel off: colour
    assert np.array_equal(gray_plane(broadcast), plane) and np.array_equal(gray_plane(frame), plane)
    assert gray_plane(colour) is None and gray_plane(frame.astype(np.float32) / 255) is None
    c = Colorizer(create_model("baseline", width=4), render_size=8)
    (L1, levels1), (L2, levels2) = c.luminance([broadcast]), c.luminance([frame])
    assert levels1 is not None and levels2 is not None and levels1.equal(levels2) and L1.equal(L2)


def test_settings_are_resolved_once_within_the_callers_limits():
    c = Colorizer(create_model("baseline", width=4), render_size=48)
    assert c.prepare() == RunSettings(48, 1.0)
    server = Limits(32, 1024, 3.0)
    with pytest.raises(ValueError, match="at least 32 and at most 1024"):
        c.prepare(render_size=16, limits=server)
    with pytest.raises(ValueError, match="between 0 and 3, got 5"):
        c.prepare(saturation=5, limits=server)
    assert c.prepare(render_size=16).render_size == 16  # the library allows 8 to 2048
    with pytest.raises(ValueError, match="either resolved settings or render_size"):
        c.colorize_array(np.zeros((8, 8, 3), np.uint8), c.prepare(), render_size=16)
    with pytest.raises(ValueError, match=r"^model 'baseline' takes no colour hints or reference"):
        c.prepare(reference=np.zeros((4, 4, 3), np.uint8))
