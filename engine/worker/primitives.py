"""Instrumented multiprocessing primitives: they behave like the originals and say when they block.

Each wrapper first tries the operation without blocking; only when that fails does it block, and
the time blocked goes to the engine as a :class:`~procviz.engine.worker.wire.WaitSpan` labelled with what it
waited in (``lock.acquire``, ``queue.put``, ``queue.get``, ``queue.join``, ``pipe.recv``,
``semaphore.acquire``, ``event.wait``). So the chart shows not only that a process was waiting,
but for what, and an operation that did not block leaves no mark.

The wrappers hold the real objects and pickle with them, so they travel to child processes as
``Process`` arguments exactly like the originals (under spawn and forkserver too). Outside a
procviz worker (no recorder) they are plain pass-throughs.
"""

from __future__ import annotations

import queue as std_queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from procviz.engine.worker.instrument import recorder
from procviz.engine.worker.wire import WaitSpan


def record_wait(what: str, start_ns: int, end_ns: int) -> None:
    """Send one wait span of the calling thread (no-op outside a worker)."""
    rec = recorder()
    if rec is not None and end_ns > start_ns:
        rec.wait_span(WaitSpan(threading.get_native_id(), start_ns, end_ns, what))


@contextmanager
def waiting(what: str) -> Iterator[None]:
    """Record the time spent in the ``with`` body as waiting in ``what`` (e.g. a Manager call)."""
    t0 = time.monotonic_ns()
    try:
        yield
    finally:
        record_wait(what, t0, time.monotonic_ns())


def acquire(lock: Any, what: str, block: bool = True, timeout: float | None = None) -> bool:
    """``lock.acquire`` that records a span only when it had to wait."""
    if lock.acquire(False):
        return True
    if not block:
        return False
    t0 = time.monotonic_ns()
    try:
        return lock.acquire(True, timeout) if timeout is not None else lock.acquire(True)
    finally:
        record_wait(what, t0, time.monotonic_ns())


class Lock:
    """``multiprocessing.Lock`` recording ``lock.acquire`` waits."""

    def __init__(self, ctx: Any, label: str = "lock.acquire") -> None:
        self._lock = ctx.Lock()
        self.label = label

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        """Take the lock, blocking (and recording the wait) if another process holds it."""
        return acquire(self._lock, self.label, block, timeout)

    def release(self) -> None:
        """Give the lock back."""
        self._lock.release()

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Semaphore(Lock):
    """``multiprocessing.Semaphore(value)`` recording ``semaphore.acquire`` waits."""

    def __init__(self, ctx: Any, value: int, label: str = "semaphore.acquire") -> None:
        self._lock = ctx.Semaphore(value)
        self.label = label

    def get_value(self) -> int:
        """How many more may enter now."""
        return self._lock.get_value()


class Event:
    """``multiprocessing.Event`` recording ``event.wait`` waits."""

    def __init__(self, ctx: Any, label: str = "event.wait") -> None:
        self._event = ctx.Event()
        self.label = label

    def set(self) -> None:
        """Open: every waiter goes on."""
        self._event.set()

    def clear(self) -> None:
        """Close again."""
        self._event.clear()

    def is_set(self) -> bool:
        """Whether it is open."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set (or ``timeout``); True if it is set."""
        if self._event.is_set():
            return True
        t0 = time.monotonic_ns()
        try:
            return self._event.wait(timeout)
        finally:
            record_wait(self.label, t0, time.monotonic_ns())


class Queue:
    """``multiprocessing.Queue(maxsize)`` recording ``queue.put`` (full) and ``queue.get`` (empty) waits.

    ``blocked_puts`` / ``blocked_gets`` count, in this process, the calls that had to wait.
    """

    def __init__(self, ctx: Any, maxsize: int = 0) -> None:
        self._q = self._make(ctx, maxsize)
        self.maxsize = maxsize
        self.blocked_puts = 0
        self.blocked_gets = 0

    @staticmethod
    def _make(ctx: Any, maxsize: int) -> Any:
        return ctx.Queue(maxsize)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item``; blocks while the queue is full."""
        try:
            self._q.put(item, False)
            return
        except std_queue.Full:
            if not block:
                raise
        self.blocked_puts += 1
        t0 = time.monotonic_ns()
        try:
            self._q.put(item, True, timeout)
        finally:
            record_wait("queue.put", t0, time.monotonic_ns())

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Take an item; blocks while the queue is empty."""
        try:
            return self._q.get(False)
        except std_queue.Empty:
            if not block:
                raise
        self.blocked_gets += 1
        t0 = time.monotonic_ns()
        try:
            return self._q.get(True, timeout)
        finally:
            record_wait("queue.get", t0, time.monotonic_ns())

    def qsize(self) -> int:
        """Items in the queue now (approximate while others put and get)."""
        return self._q.qsize()

    def empty(self) -> bool:
        """Whether it looks empty now."""
        return self._q.empty()

    def full(self) -> bool:
        """Whether it looks full now."""
        return self._q.full()


class JoinableQueue(Queue):
    """``multiprocessing.JoinableQueue``: also ``task_done`` and ``join`` (recorded as ``queue.join``)."""

    @staticmethod
    def _make(ctx: Any, maxsize: int) -> Any:
        return ctx.JoinableQueue(maxsize)

    def task_done(self) -> None:
        """Say one item taken with get() is fully processed."""
        self._q.task_done()

    def join(self) -> None:
        """Block until every item put has been marked done."""
        t0 = time.monotonic_ns()
        try:
            self._q.join()
        finally:
            record_wait("queue.join", t0, time.monotonic_ns())


class Connection:
    """One end of a ``multiprocessing.Pipe`` recording ``pipe.recv`` waits."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def send(self, obj: Any) -> None:
        """Send a picklable object to the other end."""
        self._conn.send(obj)

    def recv(self) -> Any:
        """Receive the next object; blocks until one arrives; EOFError once the other end closed."""
        if self._conn.poll(0):
            return self._conn.recv()
        t0 = time.monotonic_ns()
        try:
            return self._conn.recv()
        finally:
            record_wait("pipe.recv", t0, time.monotonic_ns())

    def poll(self, timeout: float | None = 0.0) -> bool:
        """Whether data is waiting (after up to ``timeout`` seconds)."""
        return self._conn.poll(timeout)

    def close(self) -> None:
        """Close this end (the other end's recv then raises EOFError once all copies are closed)."""
        self._conn.close()


def Pipe(duplex: bool = True) -> tuple[Connection, Connection]:  # noqa: N802 - mirrors multiprocessing.Pipe
    """Two connected ends; with ``duplex=False`` the first only receives and the second only sends."""
    import multiprocessing

    a, b = multiprocessing.Pipe(duplex)
    return Connection(a), Connection(b)
