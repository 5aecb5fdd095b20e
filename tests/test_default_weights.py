"""The shipped default model loads offline and colorizes through the pipeline."""

import numpy as np

from chromatize.inference.pipeline import Colorizer


def test_default_weights_load_and_add_colour(rng):
    colorizer = Colorizer.from_pretrained("default", render_size=64)
    assert colorizer.info.name == "mobilenet_unet"
    gray = np.repeat(rng.random((40, 70, 1), dtype=np.float32), 3, axis=2)
    out = colorizer.colorize_array(gray)
    assert out.shape == (40, 70, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - out.mean(axis=2, keepdims=True)).max() > 0  # some chroma was added
