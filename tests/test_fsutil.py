import os

import pytest

from chromatize.fsutil import atomic_path, atomic_write_text


def test_atomic_write_replaces_and_has_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failed_write_leaves_target_and_no_partial(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("keep")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("encoder failed")
    assert target.read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_no_overwrite_refuses(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("keep")
    with pytest.raises(FileExistsError):
        atomic_write_text(target, "new", overwrite=False)
    assert target.read_text() == "keep"
