"""Recolour augmentation: a region gets another colour and hints inside it; nothing else moves."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from chromatize.color import AB_SCALE, rgb_to_l_ab
from chromatize.data.hints import HintSimConfig
from chromatize.data.recolour import new_colour, recolour_batch, recoloured_hints


def two_colours(size: int = 64) -> torch.Tensor:
    """sRGB ``[1,3,size,size]``: a red square (a quarter of the photo) on a green field, with a little grain
    (Felzenszwalb's segmentation needs some texture to grow regions)."""
    rgb = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) * 0.04
    rgb[0, 1] += 0.6
    rgb[0, :, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] += torch.tensor([0.8, 0.1, 0.1]).view(3, 1, 1)
    return rgb


def square_labels(rgb):
    """The segmentation of :func:`two_colours` (Felzenszwalb's is scikit-image's business; this tests the rest)."""
    labels = np.zeros(rgb.shape[:2], dtype=int)
    labels[16:48, 16:48] = 1
    return labels


def test_a_recoloured_region_changes_alone_and_its_hints_lie_inside_it(monkeypatch):
    monkeypatch.setattr("chromatize.data.recolour.colour_regions", square_labels)
    rgb = two_colours()
    _, ab = rgb_to_l_ab(rgb)
    rng = np.random.default_rng(0)
    out, points = recolour_batch(rgb, ab, 1.0, 1, (0.1, 0.4), (2, 2), rng)  # only the red square qualifies
    changed = (out - ab).norm(dim=1)[0] * AB_SCALE > 1.0
    square = torch.zeros(64, 64, dtype=torch.bool)
    square[16:48, 16:48] = True
    assert changed[square].all() and not changed[~square].any()
    assert len(points[0]) == 2 and all(square[p] for p in points[0])
    assert all(abs(c - 31.5) <= 1 for c in points[0][0])  # the first hint at the most interior point


def test_the_opposite_hue_has_the_protocols_chroma():
    rng = np.random.default_rng(3)
    colours = [new_colour(np.array([30.0, 10.0]), rng) for _ in range(200)]
    opposite = [c for c in colours if c @ np.array([30.0, 10.0]) < 0 and abs(c[0] * 10.0 - c[1] * 30.0) < 1e-6 * np.hypot(*c) * 40]
    assert opposite and all(np.hypot(*c) >= 45.0 - 1e-6 for c in opposite)
    assert all(25.0 - 1e-6 <= np.hypot(*c) <= 80.0 + 1e-6 for c in colours)


def test_recoloured_hints_carry_the_new_colour_of_their_region(monkeypatch):
    monkeypatch.setattr("chromatize.data.recolour.colour_regions", square_labels)
    rgb = two_colours().repeat(3, 1, 1, 1)
    _, ab = rgb_to_l_ab(rgb)
    cfg = HintSimConfig(recolour=1.0, recolour_share=(0.1, 0.4), recolour_alone=1.0, p_zero=1.0)
    target, hints = recoloured_hints(rgb, ab, cfg, np.random.default_rng(1), torch.Generator().manual_seed(1))
    assert target.shape == ab.shape and hints.shape == (3, 3, 64, 64)
    mask = hints[:, 2] > 0
    assert mask.any(dim=(1, 2)).all()  # every photo got its region's hints (and no others: p_zero=1)
    for b in range(3):  # a hint is the mean of the (recoloured, grainy) target under it
        hinted, region_mean = hints[b, :2, mask[b]], target[b, :, 16:48, 16:48].mean((1, 2))
        assert (hinted - region_mean[:, None]).norm(dim=0).max() * AB_SCALE < 3.0
        assert (region_mean - ab[b, :, 16:48, 16:48].mean((1, 2))).norm() * AB_SCALE > 20.0


def test_the_hints_task_trains_with_recolouring_and_the_prior_built_outside_the_network(tmp_path):
    from chromatize.data.synthetic import write_synthetic_folder
    from chromatize.train.run import train

    write_synthetic_folder(tmp_path / "photos", 6, size=48, seed=0)
    result = train(overrides=[
        f"data={tmp_path / 'photos'}", f"cache_dir={tmp_path / 'cache'}", "image_size=32", "batch_size=4", "val_fraction=0.34",
        "task=hints", "model.name=unet_hints", "model.args={base: 4, levels: 3}", "progress=false", "samples=2",
        "max_steps=3", "hints.recolour=1.0", "hints.recolour_share=[0.01, 0.6]"], run_dir=tmp_path / "run")
    assert len(result.history) >= 1 and all(math.isfinite(r["train_loss"]) for r in result.history)


def test_recoloured_pixels_weigh_more_in_the_loss():
    import dataclasses

    from chromatize.hint_prior import hint_prior
    from chromatize.train.config import TrainConfig
    from chromatize.train.tasks import create_task

    cfg = TrainConfig(task="hints", model=dataclasses.replace(TrainConfig().model, name="unet_hints",
                                                              args={"base": 4, "levels": 3}),
                      loss=dataclasses.replace(TrainConfig().loss, name="l1"),
                      hints=HintSimConfig(recolour=1.0, recolour_weight=3.0))
    task = create_task(cfg, torch.device("cpu"))
    rgb = two_colours()
    L, ab = rgb_to_l_ab(rgb)
    target = ab.clone()
    target[..., 16:48, 16:48] += 0.3  # the square recoloured
    hints = torch.zeros(1, 3, 64, 64)
    task.hints_for = lambda *args: (target, hints)
    seen = {}

    class Record:
        def step(self, name, loss):
            seen["loss"] = float(loss.detach())

    task.run_step(rgb, Record())
    with torch.no_grad():
        residual = (task.model(L, hints, hint_prior(L, hints)) - target).abs()
    weights = torch.ones_like(residual)
    weights[..., 16:48, 16:48] = 3.0
    assert seen["loss"] == pytest.approx(float((weights * residual).mean()), rel=1e-4)


@pytest.mark.parametrize("bad", [{"recolour": 1.5}, {"recolour_alone": -0.1}, {"recolour_regions": 0},
                                 {"recolour_share": (0.5, 0.2)}, {"recolour_share": (0.1,)}, {"recolour_hints": (0, 2)},
                                 {"recolour_hints": (3, 1)}, {"recolour_weight": 0.0}])
def test_bad_recolour_settings_are_refused(bad):
    with pytest.raises(ValueError, match="hints.recolour"):
        HintSimConfig(**bad)


def test_a_bad_recolour_setting_is_one_line_from_the_command_line(tmp_path, capsys):
    from chromatize.cli import main

    recipe = Path(__file__).resolve().parents[1] / "configs" / "hints_recolour.yaml"
    code = main(["train", str(recipe), "--run-dir", str(tmp_path / "run"), "--set", "hints.recolour=2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "hints.recolour" in err and not (tmp_path / "run").exists()
