"""Threads that emit into Qt are ended before the interpreter tears Qt down.

A daemon thread still running when the program ends keeps running while Python finalizes its
modules, PySide's among them: one that emits a signal then crashes the process at exit (the
window's numbers thread did, 1 run in 40 of a benchmark whose window quit as its run's last
figures were computed). Exit functions (:mod:`atexit`) run while the interpreter is still intact,
so each guarded thread is told to stop there and given a bounded time to finish what it has in hand.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable

EXIT_WAIT_S = 30.0  # at most, for all of them (the window's longest job, figures of 1M tasks: about 1 s)

_guarded: list[tuple[threading.Thread, Callable[[], None]]] = []
_lock = threading.Lock()


def end_at_exit(thread: threading.Thread, stop: Callable[[], None]) -> None:
    """Call ``stop`` at the interpreter's exit if ``thread`` still runs, then wait for it to end."""
    with _lock:
        _guarded[:] = [entry for entry in _guarded if entry[0].is_alive() or not entry[0].ident]
        _guarded.append((thread, stop))


def _end_guarded() -> None:
    with _lock:
        live = [entry for entry in _guarded if entry[0].is_alive()]
        _guarded.clear()
    for _, stop in live:
        stop()
    deadline = time.monotonic() + EXIT_WAIT_S
    for thread, _ in live:
        thread.join(max(0.0, deadline - time.monotonic()))


atexit.register(_end_guarded)
