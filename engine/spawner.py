"""One long-lived thread that creates every worker process of every run.

Why: a worker arms ``PR_SET_PDEATHSIG`` (see :mod:`procviz.engine.worker.lifeline`), and Linux
sends that signal when the *thread* that forked the worker exits, not the process. Pools create
workers from short-lived threads (the submitter thread, a pool's maintenance thread); a worker
created there would be killed when that thread ends, in the middle of a healthy run. Handing the
fork to a thread that lives as long as the process makes the signal mean "the engine's process
died". The thread is a daemon and idle between requests (blocked on a queue).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _Request:
    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


_requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _serve() -> None:
    while True:
        req = _requests.get()
        try:
            req.result = req.fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            req.error = exc
        req.done.set()
        del req  # idle between requests without holding the last process


def in_spawner_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` (e.g. ``process.start``) on the spawner thread and return its result or raise."""
    global _thread
    if threading.current_thread() is _thread:
        return fn()
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="procviz-spawner", daemon=True)
            _thread.start()
    req = _Request(fn)
    _requests.put(req)
    req.done.wait()
    if req.error is not None:
        raise req.error
    return req.result


class SpawnedByLongLivedThread:
    """Mixin for ``multiprocessing`` Process classes: ``start()`` forks on the spawner thread."""

    def start(self) -> None:
        """Start the process from the spawner thread (see the module docstring)."""
        in_spawner_thread(super().start)  # type: ignore[misc]
