"""Ctrl-C and SIGTERM during training: a flag the loop checks between steps, so a run stops at a step
boundary and saves a consistent ``last.pt``."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[dict]:
    """Turn SIGINT / SIGTERM into ``flag["stop"] = True``, checked between steps (a second Ctrl-C interrupts
    at once). Off the main thread, where signal handlers cannot be set, the flag stays False."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
