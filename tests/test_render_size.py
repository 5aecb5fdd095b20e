"""One rule for the render size: None (left out) is the weights' own; anything else must be 8 to 2048, with
one message from the CLI, Colorizer and each call."""

import numpy as np
import pytest
from PIL import Image

from chromatize.checkpoint import save_checkpoint
from chromatize.cli import main
from chromatize.inference.pipeline import Colorizer
from chromatize.registry import create_model

MESSAGE = "render_size must be a whole number, at least 8 and at most 2048 (leave it out for the model's own), got 0"


@pytest.mark.parametrize("size", [0, 7, 2049, -5])
def test_out_of_range_sizes_are_refused_alike_everywhere(tmp_path, capsys, size):
    net = create_model("baseline", width=4)
    message = MESSAGE.replace("got 0", f"got {size}")
    with pytest.raises(ValueError) as constructor:
        Colorizer(net, render_size=size)
    with pytest.raises(ValueError) as call:
        Colorizer(net).colorize_array(np.zeros((8, 8, 3), np.uint8), render_size=size)
    assert str(constructor.value) == str(call.value) == message
    model = save_checkpoint(tmp_path / "m.safetensors", net)
    Image.new("L", (12, 8)).save(tmp_path / "p.png")
    assert main(["colorize", "-q", str(tmp_path / "p.png"), "--model", str(model), "--render-size", str(size)]) == 2
    assert capsys.readouterr().err.strip() == f"chromatize colorize: error: {message}"
    assert not (tmp_path / "p_color.png").exists()


def test_none_is_the_weights_own_size():
    colorizer = Colorizer(create_model("baseline", width=4), render_size=64)
    assert colorizer.prepare().render_size == colorizer.prepare(render_size=None).render_size == 64
    assert colorizer.prepare(render_size=32).render_size == 32
