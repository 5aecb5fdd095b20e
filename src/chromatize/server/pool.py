"""A bounded inference pool: work runs in threads off the event loop, with a cap on what may wait."""

from __future__ import annotations

import asyncio
import ctypes
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None elsewhere (musl, macOS, Windows)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> None:
    """Give memory freed by a finished job back to the system.

    Each request allocates and frees full-resolution arrays of its own size in a worker thread; glibc keeps
    such freed blocks in per-thread arenas, so without this the server's RSS climbs with every new mix of
    sizes although nothing is alive (measured by benchmarks/load_test.py).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _run_then_trim(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    finally:
        return_freed_memory()


class PoolFull(RuntimeError):
    """Every worker is busy and the queue is full (the server answers 503)."""


class InferencePool:
    """``workers`` threads; at most ``workers + queue_limit`` jobs admitted at once, the rest refused."""

    def __init__(self, workers: int, queue_limit: int):
        self.workers = workers
        self.capacity = workers + queue_limit
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._admitted = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now."""
        return self._admitted

    def _release(self, _future: Any = None) -> None:
        with self._lock:
            self._admitted -= 1
        self._slots.release()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker thread and await its result; raises :class:`PoolFull` at once if full."""
        if not self._slots.acquire(blocking=False):
            raise PoolFull(f"server busy: {self.capacity} requests already running or queued")
        with self._lock:
            self._admitted += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="chromatize-infer")
            executor = self._executor
        try:
            future = executor.submit(_run_then_trim, fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        """Drop queued jobs and let running ones finish in the background; a later ``run`` starts afresh."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
