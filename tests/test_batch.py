"""Folder colorization with decoding and encoding overlapped with the network: same files, same reports."""

import numpy as np
import pytest
from PIL import Image

from chromatize.inference.batch import colorize_files
from chromatize.inference.pipeline import Colorizer
from chromatize.registry import create_model


@pytest.fixture
def folder(tmp_path, rng):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (20 + i, 30), dtype=np.uint8)).save(src / ("sub" if i % 2 else "") / f"p{i}.png")
    (src / "p2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # replaces p2 with a damaged file
    return src


@pytest.mark.parametrize("overlap, workers", [(True, 1), (True, 3), (False, 1)])
def test_overlapped_and_sequential_batches_write_the_same_files(folder, tmp_path, overlap, workers):
    colorizer = Colorizer(create_model("baseline", width=4), render_size=16)
    out = tmp_path / f"out-{overlap}"
    result = colorize_files([folder], out, model=colorizer, overlap=overlap, workers=workers, progress=False)
    assert [s.name for s, _ in result.done] == ["p0.png", "p4.png", "p1.png", "p3.png"]  # input order
    assert [(s.name, "corrupt" in r or "not an image" in r) for s, r in result.failed] == [("p2.png", True)]
    reference = colorize_files([folder], tmp_path / "ref", model=colorizer, overlap=not overlap, progress=False)
    for (_, a), (_, b) in zip(result.done, reference.done):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    again = colorize_files([folder], out, model=colorizer, overlap=overlap, progress=False)
    assert len(again.skipped) == 4 and not again.done


def test_a_write_that_fails_is_reported_and_the_rest_go_on(folder, tmp_path):
    colorizer = Colorizer(create_model("baseline", width=4), render_size=16)
    out = tmp_path / "out"
    (out / "p0.png").mkdir(parents=True)  # a folder where the output file should go: that write fails
    result = colorize_files([folder], out, model=colorizer, overwrite=True, progress=False)
    assert sorted(s.name for s, _ in result.failed) == ["p0.png", "p2.png"]
    assert sorted(s.name for s, _ in result.done) == ["p1.png", "p3.png", "p4.png"]
