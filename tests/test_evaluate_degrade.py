"""``chromatize evaluate --degrade SEED``: degraded gray inputs scored against the clean originals."""

import json

import numpy as np
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.evaluate import evaluate_folder
from chromatize.evaluate.data import gray_input, load_original, model_input
from chromatize.registry import create_model


def _photos(folder, n=3, side=24):
    folder.mkdir(parents=True)
    y, x = np.mgrid[0:side, 0:side]
    for i in range(n):
        rgb = np.stack([x / side, y / side, 0.5 + 0.5 * np.sin(x / 3 + i)], axis=-1)
        Image.fromarray((rgb * 255).astype(np.uint8), "RGB").save(folder / f"p{i}.png")
    return folder


def test_model_input_is_gray_clean_or_degraded_per_file(tmp_path):
    data = _photos(tmp_path / "photos")
    original = load_original(data / "p0.png", 24)
    assert np.array_equal(model_input(original, "p0.png"), gray_input(original))
    a = model_input(original, "p0.png", {"seed": 0, "strength": 1.0})
    assert np.array_equal(a, model_input(original, "p0.png", {"seed": 0, "strength": 1.0}))
    assert not np.array_equal(a, model_input(original, "p1.png", {"seed": 0, "strength": 1.0}))  # per file
    assert np.allclose(a[..., 0], a[..., 2])  # still gray


def test_degraded_evaluation_scores_against_clean_originals(tmp_path, capsys):
    data = _photos(tmp_path / "photos", n=4)
    ckpt = save_checkpoint(tmp_path / "m.pt", create_model("baseline", width=4))
    kw = dict(size=16, best_worst=1, progress=False)
    clean = evaluate_folder([ckpt], data, out=tmp_path / "clean", **kw)
    bad = evaluate_folder([ckpt], data, out=tmp_path / "bad", degrade=3, **kw)
    again = evaluate_folder([ckpt], data, out=tmp_path / "again", degrade=3, **kw)
    assert clean["settings"]["degrade"] is None and bad["settings"]["degrade"] == {"seed": 3, "strength": 1.0}
    mse = lambda r, m: r["models"][m]["summary"]["mse"]["mean"]  # noqa: E731
    # the gray reference returns its (degraded) input: against the clean original it can only lose
    assert mse(bad, "gray") > mse(clean, "gray")
    assert [r["mse"] for r in bad["models"][str(ckpt)]["rows"]] == [r["mse"] for r in again["models"][str(ckpt)]["rows"]]
    assert "degraded like an old print" in (tmp_path / "bad" / "report.html").read_text()
    assert main(["evaluate", str(ckpt), "--data", str(data), "--size", "16", "--out", str(tmp_path / "cli"),
                 "--degrade", "3", "--quiet"]) == 0
    written = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert written["models"]["gray"]["summary"]["mse"]["mean"] == mse(bad, "gray")
    assert main(["evaluate", str(ckpt), "--data", str(data), "--out", str(tmp_path / "x"),
                 "--degrade", "1", "--degrade-strength", "2", "--quiet"]) == 2
