"""Two cores for the big readers and writers: a function mapped over parts on threads, in order.

The formats' heavy lifting is numpy (vector loops release the GIL) and ``numpy.fromstring`` (which
releases it too), so the parts of a file (CSV rows, native columns, Chrome-trace chunks) are
formatted or parsed on a second thread while the first works on the next part or writes. What
holds the GIL (``bytes.translate``, Python glue) still runs one at a time, so the gain is less than
twofold, and none on a single CPU, where everything runs on the caller's thread as before.

Results come back in the order of the parts, at most ``ahead`` of them computed before the caller
takes them (bounded memory when the caller writes slower than the threads format).

:class:`Later` computes one thing on its own thread while the caller goes on (a writer's set-up for
a later part of the file, done while an earlier part is formatted and written), so no core waits
for a step that needs only one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

MAX_THREADS = 2  # more threads than this only queue for the GIL


def thread_count() -> int:
    """Threads worth using here: the CPUs this process may run on, at most MAX_THREADS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # (not Linux)
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cpus))


def ordered_map(fn: Callable[[T], R], items: Iterable[T], ahead: int = 4, threads: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` computed on ``threads`` threads (default: :func:`thread_count`), yielded in
    order; an exception raised by ``fn`` is raised here, at its item. Leaving the loop early stops
    the threads (each finishes the item it is on)."""
    items = list(items)
    count = thread_count() if threads is None else threads
    if count <= 1 or len(items) < 2:
        yield from map(fn, items)
        return
    state = _State(items, ahead)
    workers = [threading.Thread(target=state.work, args=(fn,), name=f"procviz-formats-{k}", daemon=True)
               for k in range(min(count, len(items)))]
    for w in workers:
        w.start()
    try:
        for k in range(len(items)):
            yield cast(R, state.take(k))
    finally:
        state.stop()
        for w in workers:
            w.join()


class _State:
    """What the threads share: the next item to compute, the results not yet taken, the first error."""

    def __init__(self, items: list, ahead: int) -> None:
        self.items = items
        self.ahead = max(ahead, 1)
        self.cond = threading.Condition()
        self.next_item = 0
        self.next_out = 0
        self.results: dict[int, object] = {}
        self.error: BaseException | None = None
        self.stopped = False

    def work(self, fn: Callable) -> None:
        """A thread's loop: claim the next item (no more than ``ahead`` past what was taken), compute it."""
        while True:
            with self.cond:
                while (not self.stopped and self.error is None and self.next_item < len(self.items)
                       and self.next_item - self.next_out >= self.ahead):
                    self.cond.wait()
                if self.stopped or self.error is not None or self.next_item >= len(self.items):
                    return
                i = self.next_item
                self.next_item += 1
            try:
                result = fn(self.items[i])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
                with self.cond:
                    self.error = self.error or exc
                    self.cond.notify_all()
                return
            with self.cond:
                self.results[i] = result
                self.cond.notify_all()

    def take(self, k: int) -> object:
        """Item ``k``'s result, waiting for it."""
        with self.cond:
            while k not in self.results and self.error is None:
                self.cond.wait()
            if k not in self.results:
                assert self.error is not None
                raise self.error
            self.next_out = k + 1
            self.cond.notify_all()
            return self.results.pop(k)

    def stop(self) -> None:
        """No new items are claimed."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class Later(Generic[R]):
    """``fn()`` started now on its own thread; :meth:`result` waits for it (its exception is raised
    there). On a single CPU nothing is started: ``fn`` runs when the result is first asked for."""

    def __init__(self, fn: Callable[[], R]) -> None:
        self._fn: Callable[[], R] | None = fn
        self._value: R | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if thread_count() > 1:
            self._thread = threading.Thread(target=self._run, name="procviz-formats-later", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        fn, self._fn = self._fn, None
        assert fn is not None
        try:
            self._value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            self._error = exc

    def result(self) -> R:
        """The value of ``fn()``, computing it here if no thread did."""
        if self._thread is not None:
            self._thread.join()
        elif self._fn is not None:
            self._run()
        if self._error is not None:
            raise self._error
        return cast(R, self._value)
