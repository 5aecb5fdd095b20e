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


def test_default_beats_gray_on_held_out_sample_photos():
    """scikit-image's colour samples are never in the training corpus (scripts/build_corpus.py drops
    anything near them): the shipped model must be closer to them than the gray input, and add colour."""
    from PIL import Image
    from skimage import data

    from chromatize.evaluate.data import gray_input
    from chromatize.metrics import colorfulness, psnr

    colorizer = Colorizer.from_pretrained("default", render_size=128)
    gains, cf = [], []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        small = Image.fromarray(getattr(data, name)()).resize((128, 96), Image.Resampling.BICUBIC)
        original = np.asarray(small, dtype=np.float32) / 255.0
        gray = gray_input(original)
        pred = colorizer.colorize_array(gray).astype(np.float32) / 255.0
        gains.append(psnr(pred, original) - psnr(gray, original))
        cf.append(colorfulness(pred) / colorfulness(original))
    assert np.mean(gains) > 0.3, gains
    assert np.mean(cf) > 0.3, cf


def test_default_weights_fit_mobilenet_unet_exactly():
    """The shipped file's tensors are exactly mobilenet_unet's state dict (the shared decoder kept its keys)."""
    from safetensors import safe_open

    from chromatize.checkpoint import resolve_weights
    from chromatize.registry import create_model

    with safe_open(str(resolve_weights("default")), framework="pt") as f:
        keys = set(f.keys())
    assert keys == set(create_model("mobilenet_unet").state_dict())
