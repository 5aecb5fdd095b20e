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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_exported_safetensors_get_normal_permissions(tmp_path):
    """safetensors replaces the temporary file with its own 0600 one; the result must still be 0666 - umask."""
    from chromatize.checkpoint import save_checkpoint
    from chromatize.registry import create_model
    from chromatize.train.export import export_weights

    model = create_model("baseline", width=4)
    for name in ("w.safetensors", "w.pt"):
        save_checkpoint(tmp_path / name, model)
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~_umask(), name
    export_weights(tmp_path / "w.pt", tmp_path / "shipped.safetensors", half=True)
    assert (tmp_path / "shipped.safetensors").stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    from chromatize.fsutil import remove_stale_parts

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # that process has exited: its pid names a writer that is gone
    from chromatize.fsutil import _writer_tag

    host = _writer_tag().partition("@")[2]
    target = tmp_path / "photo.v2.png"
    stale = tmp_path / f".photo.v2.{dead_pid}@{host}-abc_123.part.png"
    live = tmp_path / f".photo.v2.{os.getppid()}@{host}-def456.part.png"  # a live writer (our parent)
    elsewhere = tmp_path / f".photo.v2.{dead_pid}@another-machine.lan-x1.part.png"  # a pid of another machine
    other = tmp_path / f".other.{dead_pid}@{host}-x.part.png"  # another target's file
    for p in (stale, live, elsewhere, other):
        p.write_bytes(b"half")
    atomic_write_text(target, "done")
    assert target.read_text() == "done"
    assert not stale.exists() and live.exists() and elsewhere.exists() and other.exists()
    assert remove_stale_parts(tmp_path / "other.png") == [other]
