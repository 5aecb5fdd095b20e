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


def test_both_413_messages_state_pixels_the_same_way():
    import io
    import re

    from chromatize.server.uploads import UploadRejected, decode_upload
    from hostile import png_bomb

    buffer = io.BytesIO()
    Image.new("L", (40, 30)).save(buffer, "PNG")
    details = []
    for data in (buffer.getvalue(), png_bomb(100_000, 100_000)):  # ours, then Pillow's guard first
        with pytest.raises(UploadRejected) as e:
            decode_upload(data, max_pixels=1000)
        assert e.value.status == 413
        details.append(e.value.message)
    pattern = (r"image is too large: [\d,]+ pixels( \(\d+x\d+\))?, read from its header, over this server's limit "
               r"of 1,000 pixels \(0\.001 megapixels; set with chromatize serve --max-megapixels\)")
    assert all(re.fullmatch(pattern, d) for d in details), details
    assert "1,200 pixels (40x30)" in details[0] and "10,000,000,000 pixels," in details[1]


@pytest.mark.parametrize("value", ["nan", "-1", "50", "inf"])
def test_saturation_out_of_range_or_nan_says_it_must_be_a_number_between_0_and_3(tmp_path, model, value, capsys):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    import io

    from fastapi.testclient import TestClient

    from chromatize.server import create_app

    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, "PNG")
    with TestClient(create_app({"tiny": model})) as client:
        r = client.post("/api/colorize", files={"image": ("p.png", buffer.getvalue(), "image/png")},
                        data={"saturation": value})
    assert r.status_code == 422 and r.json()["detail"] == f"saturation must be a number between 0 and 3, got {float(value)}"
    if value in ("nan", "-1"):  # the command line: no upper bound, same words
        assert main(["colorize", "-q", str(gray(tmp_path / "p.png")), "--model", model, "--saturation", value]) == 2
        assert f"saturation must be a number, 0 or more, got {float(value)}" in capsys.readouterr().err


def test_serve_on_a_busy_port_says_so_in_one_line_before_starting(capsys, monkeypatch):
    import socket

    pytest.importorskip("uvicorn")
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started on a busy port"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"chromatize serve: error: port {port} is in use: choose another with --port"
    assert "open http" not in out
