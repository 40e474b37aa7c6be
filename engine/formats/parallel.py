"""Two cores for the big readers and writers: a function mapped over parts on threads, in order.

The formats' heavy lifting is numpy (vector loops release the GIL) and ``numpy.fromstring`` (which
releases it too), so the parts of a file (CSV rows, native columns, Chrome-trace chunks) are
formatted or parsed on a second thread while the first works on the next part or writes. What
holds the GIL (``bytes.translate``, Python glue) still runs one at a time, so the gain is less than
twofold, and none on a single CPU, where everything runs on the caller's thread as before.

Results come back in the order of the parts, at most ``ahead`` of them computed before the caller
takes them (bounded memory when the caller writes slower than the threads format).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar, cast

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
