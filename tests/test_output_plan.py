"""Planning outputs: two inputs that would land on one output are refused before any work, naming both."""

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.inference.batch import plan_outputs
from chromatize.registry import create_model


@pytest.fixture
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4)))


def gray(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (9, 12), dtype=np.uint8), "L").save(path)
    return path


def colorize(*args):
    return main(["colorize", "-q", "--render-size", "16", *map(str, args)])


@pytest.mark.parametrize("extra", [[], ["--overwrite"], ["--shard", "0/2"], ["--shard", "1/2"]])
def test_two_inputs_onto_one_output_are_refused_before_any_work(tmp_path, model, capsys, extra):
    coll = tmp_path / "coll"
    gray(coll / "scan.jpg"), gray(coll / "scan.tif", seed=1), gray(coll / "other.png")
    out = tmp_path / "out"
    assert colorize(coll, "-o", out, "--format", "png", "--model", model, *extra) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "scan.jpg" in err and "scan.tif" in err and "scan.png" in err
    assert not out.exists()  # nothing was written, not even the photo without a clash


def test_clashes_across_folders_jpeg_spellings_and_beside_inputs(tmp_path):
    gray(tmp_path / "a" / "x.png"), gray(tmp_path / "b" / "x.png")
    with pytest.raises(ValueError, match=r"a/x\.png and .*b/x\.png would both be written to .*out/x\.png"):
        plan_outputs([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    gray(tmp_path / "c" / "p.jpg"), gray(tmp_path / "c" / "p.jpeg"), gray(tmp_path / "c" / "q.jpg")
    with pytest.raises(ValueError, match=r"p\.jpe?g and .*p\.jpe?g would both be written to .*p_color\.jpg"):
        plan_outputs([tmp_path / "c"])
    gray(tmp_path / "d" / "s.jpg"), gray(tmp_path / "d" / "s.tif"), gray(tmp_path / "d" / "t.jpg"), gray(tmp_path / "d" / "t.tif")
    with pytest.raises(ValueError, match=r"\(and 1 more such clashes\)"):
        plan_outputs([tmp_path / "d"], tmp_path / "out", format="png")
    # no clash: each keeps its own format
    assert len(plan_outputs([tmp_path / "d"], tmp_path / "out")) == 4
