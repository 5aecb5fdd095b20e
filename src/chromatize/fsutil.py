"""Atomic file writes: a reader never sees a half-written file, and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import tempfile
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _writer_tag() -> str:
    """``<pid>@<host>``: who writes a temporary file (a pid means something only on its own machine)."""
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in ".-")[:40] or "host"
    return f"{os.getpid()}@{host}"


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of writes to ``path`` whose writing process is gone (killed, e.g. by SIGKILL).

    Temporary names carry the writer's process id and host (``.<stem>.<pid>@<host>-<random>.part<suffix>``):
    only files written on this machine by a process that no longer exists are removed, so a live writer's
    file (here, or on another machine sharing the folder) is never touched. Returns the files removed.
    """
    path = Path(path)
    prefix, tail = f".{path.stem}.", f".part{path.suffix}"
    me = _writer_tag()
    my_host = me.partition("@")[2]
    removed = []
    for name in glob.glob(glob.escape(str(path.parent / prefix)) + "*" + glob.escape(tail)):
        owner = Path(name).name[len(prefix) : -len(tail)].rpartition("-")[0]  # mkstemp's random part has no "-"
        pid, _, host = owner.partition("@")
        if host == my_host and pid.isdigit() and owner != me and not _pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
                removed.append(Path(name))
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` in one step.

    The temporary file keeps ``path``'s suffix so writers that pick a format by extension work.
    If the body raises, the temporary file is removed and ``path`` is untouched. A process killed outright
    (SIGKILL) cannot clean up; its temporary file is hidden, and the next write to ``path`` removes it.
    With ``overwrite=False`` an existing ``path`` raises :class:`FileExistsError` first.
    The file gets the usual permissions (``0666`` less the umask), whatever the writer did with it.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists (use overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{_writer_tag()}-", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp makes 0600, and some writers (safetensors) replace the file with their own 0600 one
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)
