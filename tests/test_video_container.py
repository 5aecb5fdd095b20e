"""`chromatize video` and PyAV's container life: nothing is read from a stream once its file is closed
(PyAV 19 raises "Container is not open" there), and a still image is refused, pointing to `colorize`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from chromatize.cli import main  # noqa: E402
from chromatize.inference.video import VideoError, colorize_video  # noqa: E402
from test_video import colorizer, model_path, write_clip  # noqa: E402,F401


class _Stream:
    """A video stream that, like PyAV 19's, refuses every read once its container is closed."""

    def __init__(self, stream, owner):
        object.__setattr__(self, "_s", stream)
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name):
        if self._owner.closed:
            raise AssertionError("Container is not open")
        return getattr(self._s, name)

    def __setattr__(self, name, value):
        setattr(self._s, name, value)


class _Streams:
    def __init__(self, owner):
        self._owner = owner

    def __getattr__(self, name):
        found = getattr(self._owner._c.streams, name)
        return [_Stream(s, self._owner) for s in found] if name == "video" else found


class _Container:
    """An input container that records when it is closed and hands out :class:`_Stream` for video."""

    def __init__(self, container):
        self._c, self.closed = container, False
        self.streams = _Streams(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        return self._c.__exit__(*exc)

    def close(self):
        self.closed = True
        self._c.close()

    def demux(self, *streams):
        return self._c.demux(*[getattr(s, "_s", s) for s in streams])

    def __getattr__(self, name):
        return getattr(self._c, name)


@pytest.fixture
def strict_av(monkeypatch):
    real = av.open

    def open_(path, mode="r", *args, **kwargs):
        container = real(path, mode, *args, **kwargs)
        return _Container(container) if mode == "r" else container

    monkeypatch.setattr(av, "open", open_)


@pytest.mark.parametrize("audio", [True, False])
def test_no_stream_is_read_after_the_input_is_closed(tmp_path, colorizer, strict_av, audio):  # noqa: F811
    frames = [np.full((16, 24, 3), 40 * i, np.uint8) for i in range(3)]
    clip = write_clip(tmp_path / "in.mp4", frames, audio=audio)
    result = colorize_video(clip, tmp_path / "out.mp4", colorizer)
    assert result.frames == 3 and result.rate == 25 and (tmp_path / "out.mp4").is_file()


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.tif", "renamed.mp4"])
def test_a_still_image_is_refused_in_one_line_pointing_to_colorize(tmp_path, model_path, capsys, name):  # noqa: F811
    photo = tmp_path / name
    Image.new("L", (24, 16), 90).save(photo, format="JPEG" if name.endswith(".mp4") else None)
    assert main(["video", "-q", "--model", model_path, str(photo), "-o", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "still image" in err and f"chromatize colorize {photo}" in err
    assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(VideoError, match="still image"):
        colorize_video(photo, tmp_path / "x.mp4", model_path)
