import hashlib

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.registry import create_model


@pytest.fixture
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return str(save_checkpoint(path, create_model("baseline", width=4), metrics={"psnr": 20.0}))


def gray(path, size=(13, 9), mode="L"):
    rng = np.random.default_rng(len(str(path)))
    arr = rng.integers(0, 256, (size[1], size[0]) + ((4,) if mode == "RGBA" else ()), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)
    return path


def img(path):
    with Image.open(path) as im:
        im.load()
    return im


def digests(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def colorize(*args):
    return main(["colorize", "-q", "--render-size", "16", *map(str, args)])


def test_folder_with_a_bad_file_mirrors_tree_and_goes_on(tmp_path, model, capsys):
    src = tmp_path / "in"
    gray(src / "a.png")
    gray(src / "sub" / "b.jpg", size=(8, 21))
    (src / "sub" / "broken.jpg").write_bytes(b"not a jpeg")
    gray(src / "c.tif")
    (src / "notes.txt").write_text("ignored")
    (src / ".a.x1y2.part.png").write_bytes(b"left by a killed run")  # hidden: ignored
    before = digests(src)
    assert colorize(src, "-o", tmp_path / "out", "--model", model) == 1
    captured = capsys.readouterr()
    assert "3 done, 0 skipped" in captured.out + captured.err and "1 failed" in captured.err
    assert "broken.jpg" in captured.err and "not an image" in captured.err
    outs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert outs == ["a.png", "c.tif", "sub/b.jpg"]
    assert img(tmp_path / "out" / "sub" / "b.jpg").size == (8, 21)
    assert digests(src) == before


def test_beside_inputs_then_skip_then_overwrite(tmp_path, model, capsys):
    photo = gray(tmp_path / "p.png")
    assert colorize(tmp_path, "--model", model) == 0
    result = tmp_path / "p_color.png"
    assert img(result).mode == "RGB" and img(result).size == (13, 9)
    first = result.stat().st_mtime_ns
    capsys.readouterr()
    # a second run neither treats p_color.png as an input nor replaces it
    assert colorize(tmp_path, "--model", model) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert result.stat().st_mtime_ns == first and not (tmp_path / "p_color_color.png").exists()
    assert colorize(tmp_path, "--model", model, "--compare", "--format", "jpg") == 0
    assert not (tmp_path / "p_color_compare.jpg").exists() and (tmp_path / "p_compare.jpg").exists()
    (tmp_path / "p_compare.jpg").unlink()
    assert colorize(tmp_path, "--model", model, "--overwrite", "--saturation", "0") == 0
    rgb = np.asarray(img(result)).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 1  # saturation 0 gave gray
    assert photo.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "p_color.png"]


def test_output_onto_an_input_is_refused(tmp_path, model, capsys):
    photo = gray(tmp_path / "p.png")
    before = digests(tmp_path)
    assert colorize(photo, "-o", photo, "--model", model, "--overwrite") == 1
    assert "would overwrite an input" in capsys.readouterr().err
    assert colorize(tmp_path, "-o", tmp_path, "--model", model, "--overwrite") == 1
    assert digests(tmp_path) == before


def test_single_file_output_compare_and_format(tmp_path, model):
    photo = gray(tmp_path / "p.png", mode="RGBA")
    assert colorize(photo, "-o", tmp_path / "o.png", "--model", model, "--compare") == 0
    side = img(tmp_path / "o.png")
    assert side.size == (26, 9) and side.mode == "RGBA"
    left = np.asarray(side.convert("RGB"))[:, :13].astype(int)
    assert np.abs(left[..., 0] - left[..., 2]).max() <= 1  # the gray input on the left
    assert colorize(photo, "--model", model, "--format", "jpg") == 0
    jpg = img(tmp_path / "p_color.jpg")
    assert jpg.format == "JPEG" and jpg.mode == "RGB" and jpg.size == (13, 9)


def test_clear_errors_for_missing_model_input_and_bad_options(tmp_path, model, capsys):
    gray(tmp_path / "p.png")
    assert colorize(tmp_path / "p.png", "--model", tmp_path / "none.safetensors") == 2
    assert "none.safetensors" in capsys.readouterr().err
    assert colorize(tmp_path / "nothing", "--model", model) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert colorize(tmp_path / "p.png", "--model", model, "--saturation", "-1") == 2
    assert colorize(tmp_path / "p.png", "--model", model, "--max-pixels", "10") == 1
    assert "exceeds the limit" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_models_lists_shipped_weights_with_metrics(tmp_path, model, monkeypatch, capsys):
    import shutil

    from chromatize import checkpoint

    shutil.copy(model, tmp_path / "default.safetensors")
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "baseline(width=4)" in out and "psnr=20" in out


def test_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, model, capsys):
    gray(tmp_path / "p.png")
    assert colorize(tmp_path, "-o", tmp_path / "color", "--model", model) == 0
    assert colorize(tmp_path, "-o", tmp_path / "color", "--model", model) == 0
    assert "0 done, 1 skipped" in capsys.readouterr().out
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["color/p.png", "p.png"]


def test_a_failed_write_leaves_no_partial_file_and_the_batch_goes_on(tmp_path, model, monkeypatch, capsys):
    gray(tmp_path / "in" / "a.png")
    gray(tmp_path / "in" / "b.png")
    real_save = Image.Image.save

    def save(self, fp, *args, **kwargs):
        if ".a." in str(fp):  # the temporary file of a.png's output
            with open(fp, "wb") as f:
                f.write(b"partial")
            raise OSError("No space left on device")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    assert colorize(tmp_path / "in", "-o", tmp_path / "out", "--model", model) == 1
    assert "No space left" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.png"]


REPO = __import__("pathlib").Path(__file__).resolve().parent.parent


def readme_demo_command():
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("chromatize colorize examples/"):
            return line.split()[1:]
    raise AssertionError("README has no demo command")


def run_readme_demo(tmp_path, monkeypatch):
    import shutil

    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    args = readme_demo_command()
    assert main([*args, "-q"]) == 0
    out = tmp_path / args[args.index("-o") + 1]
    src = img(tmp_path / args[1])
    result = img(out)
    assert result.size == src.size and result.mode == "RGB"
    return np.asarray(result).astype(np.float32) / 255


def test_readme_demo_command_with_a_stand_in_default_model(tmp_path, model, monkeypatch):
    import shutil

    from chromatize import checkpoint

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(model, weights / "default.safetensors")
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", weights)
    run_readme_demo(tmp_path / "run", monkeypatch)


def test_readme_demo_command_with_the_shipped_model(tmp_path, monkeypatch):
    import torch

    from chromatize import color
    from chromatize.checkpoint import shipped_weights

    if "default" not in shipped_weights():
        pytest.skip("no shipped default weights yet")
    rgb = run_readme_demo(tmp_path, monkeypatch)
    ab = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1))[1:]
    assert ab.norm(dim=0).mean() > 1.0  # it added colour


def test_max_pixels_above_pillows_guard_is_honoured(tmp_path, model, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # Pillow refuses above 100 pixels
    photo = gray(tmp_path / "p.png", size=(20, 20))
    assert colorize(photo, "--model", model, "--max-pixels", "1000") == 0


@pytest.mark.parametrize("flags, message", [
    (["--device", "nonsense"], "unknown device"),
    (["--device", "cuda"], "not available"),
    (["--render-size", "100000"], "at most"),
    (["--backend", "torch", "--model", "{notackpt}"], "is not a chromatize checkpoint"),
])
def test_bad_device_render_size_or_model_file_is_one_line(tmp_path, model, capsys, flags, message):
    import torch

    if "cuda" in flags and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    photo = gray(tmp_path / "p.png")
    (tmp_path / "notackpt.txt").write_text("just text\n")
    flags = [f.format(notackpt=tmp_path / "notackpt.txt") for f in flags]
    args = ["colorize", "-q", str(photo), *(["--model", model] if "--model" not in flags else []), *flags]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notackpt.txt", "p.png"]


def test_auto_workers_one_photo_per_core_for_folders_on_the_cpu(tmp_path):
    import argparse
    import os

    from chromatize.cli.colorize import _auto_workers

    photo = gray(tmp_path / "p.png")
    cores = min(os.cpu_count() or 1, 8)
    assert _auto_workers(argparse.Namespace(inputs=[str(tmp_path)], device="cpu")) == cores
    assert _auto_workers(argparse.Namespace(inputs=[str(photo), str(photo)], device="cpu")) == cores
    assert _auto_workers(argparse.Namespace(inputs=[str(photo)], device="cpu")) == 1
    assert _auto_workers(argparse.Namespace(inputs=[str(tmp_path)], device="cuda")) == 1
    with pytest.raises(SystemExit):  # argparse: usage and a one-line error, exit code 2
        main(["colorize", "-q", str(photo), "--workers", "0"])
