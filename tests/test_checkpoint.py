import json
from pathlib import Path

import pytest
import torch

from chromatize.checkpoint import load_model, read_checkpoint, save_checkpoint
from chromatize.registry import create_model, list_models
from test_models import small


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_round_trip_identical_outputs(tmp_path, name, suffix):
    model = small(name).eval()
    path = save_checkpoint(tmp_path / f"m{suffix}", model, config={"lr": 1e-3}, metrics={"val_loss": 0.5})
    loaded = load_model(path)
    m = model.chromatize_info.size_multiple
    x = torch.rand(1, 1, max(32, m), max(32, m)) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert loaded.chromatize_info.name == name
    assert loaded.chromatize_checkpoint["metrics"] == {"val_loss": 0.5}
    assert loaded.chromatize_checkpoint["config"] == {"lr": 1e-3}


def test_rgb_target_round_trip(tmp_path):
    model = create_model("baseline", target="rgb", width=8)
    loaded = load_model(save_checkpoint(tmp_path / "m.pt", model))
    assert loaded.chromatize_info.target == "rgb" and loaded.chromatize_info.kwargs["width"] == 8


def test_training_state_kept_in_pt(tmp_path):
    model = create_model("baseline", width=4)
    path = save_checkpoint(tmp_path / "m.pt", model, training_state={"step": 7})
    assert read_checkpoint(path)["training_state"] == {"step": 7}
    with pytest.raises(ValueError, match="training state"):
        save_checkpoint(tmp_path / "m.safetensors", model, training_state={"step": 7})
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob(".*part*"))


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        load_model(junk)
    other = tmp_path / "other.pt"
    torch.save({"hello": 1}, other)
    with pytest.raises(ValueError, match="not a chromatize checkpoint"):
        load_model(other)


def test_normalisation_mismatch_refused(tmp_path):
    model = create_model("baseline", width=4)
    path = save_checkpoint(tmp_path / "m.safetensors", model)
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        header = json.loads(f.metadata()["chromatize"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    header["normalization"]["ab_scale"] = 128.0
    save_file(state, str(path), metadata={"chromatize": json.dumps(header)})
    with pytest.raises(ValueError, match="normalisation"):
        load_model(path)


def test_unwrap_model_sees_through_compile_and_ddp_wrappers():
    import torch

    from chromatize.registry import model_info, unwrap_model

    model = create_model("baseline", width=4)
    compiled = torch.compile(model)  # wraps lazily: nothing is compiled until it is called
    assert unwrap_model(compiled) is model and unwrap_model(model) is model
    assert unwrap_model(torch.nn.DataParallel(compiled)) is model
    assert model_info(compiled).name == "baseline"


def test_readout_is_stored_in_the_file_and_typed(tmp_path):
    from chromatize.checkpoint import Readout, model_readout, weights_header

    model = create_model("baseline", width=4)
    fresh = model_readout(model)
    assert fresh == Readout(size_multiple=model.chromatize_info.size_multiple)
    path = save_checkpoint(tmp_path / "m.safetensors", model, readout={"render_size": 320, "border": 8, "chroma_gain": 1.25})
    readout = model_readout(load_model(path))
    assert (readout.render_size, readout.border, readout.chroma_gain) == (320, 8, 1.25)
    assert readout.inputs == ("L",) and readout.target == "lab"
    assert weights_header(path)["readout"]["render_size"] == 320
    with pytest.raises(ValueError, match="render_size"):
        Readout(render_size=2)


def test_a_file_that_is_not_a_checkpoint_is_named_in_one_line(tmp_path):
    for name, data in (("w.pt", b"not a pickle at all"), ("w.safetensors", b"\x00" * 64), ("w.jpg", b"\xff\xd8junk")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match="is not a chromatize checkpoint") as err:
            load_model(tmp_path / name)
        assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_a_folder_never_shadows_a_shipped_model(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from chromatize.checkpoint import resolve_weights, shipped_weights
    from chromatize.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    (tmp_path / "hints").mkdir()
    assert resolve_weights("default") == shipped_weights()["default"]
    assert resolve_weights("hints") == shipped_weights()["hints"]
    for folder in ("./default", "hints/", str(tmp_path / "default")):
        with pytest.raises(FileNotFoundError, match="is a folder, not a weights file"):
            resolve_weights(folder)
    assert resolve_weights("mine.pt") == Path("mine.pt")  # clearly a path, even before it exists
    Image.new("L", (12, 8), 90).save("a.png")
    assert main(["colorize", "-q", "--backend", "torch", "--render-size", "16", "a.png", "-o", "b.png"]) == 0
    assert Image.open("b.png").size == (12, 8)
