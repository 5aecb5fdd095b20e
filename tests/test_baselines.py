"""Levin, Lischinski and Weiss (2004): the classic scribble propagator of the hint benchmarks."""

import numpy as np

from chromatize.evaluate.baselines import levin_fill


def test_each_region_takes_its_own_hints_colour_and_hints_are_kept():
    rng = np.random.default_rng(0)
    gray = np.where(np.arange(48)[None, :] < 24, 0.2, 0.8) + rng.random((40, 48)) * 0.01  # dark left, bright right
    ab, mask = np.zeros((40, 48, 2)), np.zeros((40, 48), bool)
    mask[20, 6], ab[20, 6] = True, (40.0, 10.0)
    mask[20, 40], ab[20, 40] = True, (-30.0, -20.0)
    out = levin_fill(gray, ab, mask)
    assert np.allclose(out[mask], ab[mask])
    assert np.abs(out[:, :20] - (40.0, 10.0)).max() < 5.0 and np.abs(out[:, 28:] - (-30.0, -20.0)).max() < 5.0


def test_no_hints_gives_no_colour():
    assert not levin_fill(np.random.default_rng(1).random((8, 8)), np.zeros((8, 8, 2)), np.zeros((8, 8), bool)).any()
