"""Fuzzing `colorize_video` with damaged clips: every case ends in a video or one clear error, in bounded time,
and a failed run leaves nothing at OUT. Same settings as tests/test_fuzz.py (CHROMATIZE_FUZZ_EXAMPLES=...)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch

pytest.importorskip("av")
pytest.importorskip("cv2")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from chromatize.inference.pipeline import Colorizer  # noqa: E402
from chromatize.inference.video import VideoError, colorize_video  # noqa: E402
from chromatize.registry import create_model  # noqa: E402
from test_fuzz import TIME_BOUND, fuzz  # noqa: E402
from test_video import lightness_gray, pan_then_cut, write_clip  # noqa: E402

_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeds")
    gray = [np.repeat(lightness_gray(f)[..., None], 3, axis=2) for f in pan_then_cut()]
    return {
        "mp4-audio": write_clip(folder / "a.mp4", gray).read_bytes(),
        "mkv-rotated": write_clip(folder / "b.mkv", gray, audio=False, rotation=90).read_bytes(),
    }


@pytest.fixture(scope="module")
def colorizer():
    torch.manual_seed(0)
    return Colorizer(create_model("baseline", width=4), render_size=16)


@st.composite
def damaged_clip(draw, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "header-flip", "random"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how in ("flip", "header-flip"):
        top = min(len(data), 256) if how == "header-flip" else len(data)
        for pos in draw(st.lists(st.integers(0, top - 1), min_size=1, max_size=8)):
            data[pos] ^= 1 << draw(st.integers(0, 7))
    elif how == "overwrite":
        start = draw(st.integers(0, len(data) - 1))
        data[start : start + 64] = draw(st.binary(min_size=1, max_size=64))
    else:
        data = bytearray(draw(st.binary(min_size=0, max_size=4096)))
    return name.split("-")[0], bytes(data)


def test_damaged_clips_end_in_a_video_or_one_clear_error(seeds, colorizer, tmp_path):
    @fuzz
    @given(damaged_clip(seeds))
    def check(case):
        suffix, data = case
        n = next(_COUNTER)
        src, out = tmp_path / f"in{n}.{suffix}", tmp_path / f"out{n}.mkv"
        src.write_bytes(data)
        start = time.perf_counter()
        try:
            result = colorize_video(src, out, colorizer, progress=False)
        except VideoError as e:
            assert "\n" not in str(e) and str(src) in str(e)
            assert not out.exists()
        else:
            assert out.is_file() and result.frames > 0
        assert time.perf_counter() - start < 4 * TIME_BOUND
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind

    check()
