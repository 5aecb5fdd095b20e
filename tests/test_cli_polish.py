"""Small CLI fixes found when tried as a new user would: option ranges, messages, table layout, help."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import build_parser, main
from chromatize.registry import create_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(save_checkpoint(tmp_path_factory.mktemp("m") / "tiny.safetensors", create_model("baseline", width=4)))


def _photo(path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 16), dtype=np.uint8), "L").save(path)
    return path


@pytest.mark.parametrize("quality", ["500", "101", "-1", "high"])
def test_quality_outside_pillows_range_is_refused_in_one_line(tmp_path, model, capsys, quality):
    photo = _photo(tmp_path / "p.png")
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", "-q", str(photo), "--model", model, "--quality", quality, "--format", "webp"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--quality" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


@pytest.mark.parametrize("quality", ["0", "100"])
def test_quality_ends_of_the_range_work(tmp_path, model, quality):
    photo = _photo(tmp_path / "p.png")
    assert main(["colorize", "-q", str(photo), "--model", model, "--quality", quality, "--format", "webp"]) == 0
    assert Image.open(tmp_path / "p_color.webp").size == (16, 12)


def test_save_image_refuses_a_quality_pillow_does_not_know(tmp_path):
    from chromatize.io import save_image

    with pytest.raises(ValueError, match="0-100"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "a.jpg", quality=500)
    assert not list(tmp_path.iterdir())


def test_overwrite_hint_only_when_something_was_skipped(tmp_path, model, capsys):
    photo = _photo(tmp_path / "p.png")
    assert main(["colorize", "-q", str(photo), "--model", model]) == 0
    out = capsys.readouterr().out
    assert "1 done, 0 skipped, 0 failed" in out and "--overwrite" not in out
    assert main(["colorize", "-q", str(photo), "--model", model]) == 0
    out = capsys.readouterr().out
    assert "0 done, 1 skipped (output exists; --overwrite replaces), 0 failed" in out


def test_models_table_columns_line_up(tmp_path, model, monkeypatch, capsys):
    import shutil

    from chromatize import checkpoint

    shutil.copy(model, tmp_path / "default.safetensors")
    shutil.copy(model, tmp_path / "a-much-longer-model-name.safetensors")
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    split = lines.index("Shipped weights (chromatize colorize --model NAME):")
    archs, weights = lines[1:split], lines[split + 1 :]
    assert len(archs) >= 5 and len(weights) == 2
    for rows, marker in ((archs, "targets="), (archs, "multiple="), (weights, "baseline("), (weights, "target=")):
        columns = {row.index(marker) for row in rows}
        assert len(columns) == 1, (marker, rows)
    assert all(re.match(r"  \S", row) for row in archs + weights)


@pytest.mark.parametrize("command", ["models", "export", "colorize", "train", "evaluate", "serve"])
def test_every_command_has_a_help_description(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices[command]
    assert parser.description and len(parser.description) > 40
    assert parser.format_help().count(parser.description.split()[0]) >= 1
