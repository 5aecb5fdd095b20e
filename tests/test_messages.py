"""Messages a user reads: one wording per case, no exception class names, the names the user typed."""

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.registry import create_model


@pytest.fixture
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4)))


def gray(path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 12), dtype=np.uint8), "L").save(path)
    return path


def test_writing_onto_an_input_or_a_link_to_it_reads_the_same(tmp_path, model, capsys):
    photo = gray(tmp_path / "p.png")
    (tmp_path / "link.png").symlink_to(photo)
    before = photo.read_bytes()
    args = ["colorize", "-q", "--render-size", "16", "--model", model, "--overwrite"]
    assert main([*args, str(photo), "-o", str(tmp_path / "link.png")]) == 1
    via_link = capsys.readouterr().err
    assert main([*args, str(photo), "-o", str(photo)]) == 1
    direct = capsys.readouterr().err
    for err, name in ((via_link, "link.png"), (direct, "p.png")):
        assert f"{name} would overwrite an input (inputs are never written)" in err
        assert "Error" not in err
    assert photo.read_bytes() == before and (tmp_path / "link.png").is_symlink()


def test_a_model_without_hints_is_named_as_the_user_typed_it(tmp_path, model, capsys):
    photo = gray(tmp_path / "p.png")
    assert main(["colorize", "-q", str(photo), "--model", model, "--hint", "1,1,red"]) == 2
    err = capsys.readouterr().err
    assert f"model {model!r} takes no colour hints" in err and "baseline" not in err
