import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from chromatize.checkpoint import load_model, save_checkpoint
from chromatize.cli import main as cli_main
from chromatize.evaluate.calibrate import calibrate_chroma_gain
from chromatize.inference.pipeline import Colorizer
from chromatize.registry import create_model
from chromatize.train.export import export_weights


def tiny():
    return create_model("baseline", width=4)


def photos(folder, rng, n=4, side=40):
    folder.mkdir()
    for i in range(n):
        base = rng.random((side // 8, side // 8, 3)) * 255
        image = Image.fromarray(base.astype(np.uint8), "RGB").resize((side, side), Image.Resampling.BICUBIC)
        image.save(folder / f"p{i}.png")
    return folder


def test_stored_chroma_gain_equals_that_saturation(tmp_path, rng):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny())
    out = export_weights(ckpt, tmp_path / "m.safetensors", chroma_gain=1.7)
    with safe_open(str(out), framework="pt") as f:
        assert json.loads(f.metadata()["chromatize"])["readout"] == {"chroma_gain": 1.7, "render_size": 256, "border": 32}
    rgb = np.repeat(rng.random((24, 30, 1), dtype=np.float32), 3, axis=2)
    gained = Colorizer.from_pretrained(out, render_size=16)
    plain = Colorizer.from_pretrained(ckpt, render_size=16)
    assert gained.chroma_gain == 1.7 and plain.chroma_gain == 1.0
    np.testing.assert_array_equal(gained.colorize_array(rgb), plain.colorize_array(rgb, saturation=1.7))
    np.testing.assert_array_equal(gained.colorize_array(rgb, saturation=0.5), plain.colorize_array(rgb, saturation=0.85))
    # An explicit gain overrides the stored one; re-exporting keeps it.
    np.testing.assert_array_equal(Colorizer(load_model(out), render_size=16, chroma_gain=1.0).colorize_array(rgb),
                                  plain.colorize_array(rgb))
    again = export_weights(out, tmp_path / "again.safetensors", half=True)
    assert Colorizer.from_pretrained(again).chroma_gain == 1.7


def test_export_rejects_a_bad_gain(tmp_path):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny())
    with pytest.raises(ValueError, match="chroma_gain"):
        export_weights(ckpt, tmp_path / "m.safetensors", chroma_gain=0.0)
    assert cli_main(["export", str(ckpt), str(tmp_path / "x.safetensors"), "--chroma-gain", "-1"]) == 1
    assert not (tmp_path / "x.safetensors").exists()


def test_calibration_finds_the_smallest_gain_reaching_the_target(tmp_path, rng):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny())
    data = photos(tmp_path / "photos", rng)
    (data / "broken.jpg").write_bytes(b"not an image")
    gains = (0.5, 1.0, 2.0, 4.0)
    loose = calibrate_chroma_gain(ckpt, data, target=1e-6, gains=gains, size=32)
    assert loose["photos"] == 4 and loose["gain"] == 0.5
    cf = [row["cf_pred"] for row in loose["table"]]
    assert [row["gain"] for row in loose["table"]] == list(gains)
    assert cf[0] < cf[1] < cf[2]  # more gain, more colour (until the gamut clips)
    middle = cf[1] / loose["cf_orig"] * 1.0001  # just above what gain 1 gives: gain 2 is the first to reach it
    assert calibrate_chroma_gain(ckpt, data, target=middle, gains=gains, size=32)["gain"] == 2.0
    unreachable = calibrate_chroma_gain(ckpt, data, target=1e6, gains=gains, size=32)
    assert unreachable["gain"] == 4.0 and all(row["cf_ratio"] < 1e6 for row in unreachable["table"])
    one = calibrate_chroma_gain(ckpt, data, target=1.0, gains=gains, size=32, limit=1)
    assert one["photos"] == 1


def test_calibration_without_photos_says_so(tmp_path):
    ckpt = save_checkpoint(tmp_path / "m.pt", tiny())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable photos"):
        calibrate_chroma_gain(ckpt, tmp_path / "empty", size=32)


def test_evaluation_uses_and_reports_the_stored_gain(tmp_path, rng):
    from chromatize.evaluate import evaluate_folder

    ckpt = save_checkpoint(tmp_path / "m.pt", tiny())
    gained = export_weights(ckpt, tmp_path / "g.safetensors", chroma_gain=1.7)
    data = photos(tmp_path / "photos", rng, n=2)
    r = evaluate_folder([ckpt, gained], data, out=tmp_path / "eval", size=32, best_worst=1, progress=False)
    plain, boosted = (r["models"][str(m)] for m in (ckpt, gained))
    assert boosted["describe"]["chroma_gain"] == 1.7 and plain["describe"]["chroma_gain"] == 1.0
    assert boosted["summary"]["cf_pred"]["mean"] > plain["summary"]["cf_pred"]["mean"]
    assert "chroma gain 1.7" in (tmp_path / "eval" / "report.html").read_text()


def test_sample_images_draws_the_same_sorted_subset_for_a_seed(tmp_path):
    from PIL import Image

    from chromatize.evaluate.data import list_images, sample_images

    for i in range(6):
        Image.new("RGB", (4, 4)).save(tmp_path / f"p{i}.png")
    everything = list_images(tmp_path)
    assert sample_images(tmp_path) == everything and sample_images(tmp_path, 10) == everything
    three = sample_images(tmp_path, 3, seed=1)
    assert len(three) == 3 and three == sorted(three) and set(three) <= set(everything)
    assert sample_images(tmp_path, 3, seed=1) == three
    assert sample_images(tmp_path, 0) == []


def test_evaluation_and_calibration_render_at_the_weights_own_size(tmp_path, rng, monkeypatch):
    """As `colorize` runs a model: its readout's render size, whatever the photos' size, unless told."""
    from chromatize.evaluate import calibrate as calibrate_mod
    from chromatize.evaluate import evaluate_folder

    ckpt = save_checkpoint(tmp_path / "m.pt", tiny())
    small = export_weights(ckpt, tmp_path / "s.safetensors", render_size=24)
    data = photos(tmp_path / "photos", rng, n=2)
    r = evaluate_folder([small], data, out=tmp_path / "eval", size=32, best_worst=1, progress=False)
    assert r["models"][str(small)]["describe"]["render_size"] == 24
    told = evaluate_folder([small], data, out=tmp_path / "eval2", size=32, render_size=16, best_worst=1, progress=False)
    assert told["models"][str(small)]["describe"]["render_size"] == 16
    seen = []
    real = calibrate_mod.calibrate_colorizer
    monkeypatch.setattr(calibrate_mod, "calibrate_colorizer", lambda c, *a, **k: seen.append(c.render_size) or real(c, *a, **k))
    calibrate_chroma_gain(small, data, size=32, gains=(1.0,))
    calibrate_chroma_gain(small, data, size=32, gains=(1.0,), render_size=16)
    assert seen == [24, 16]
