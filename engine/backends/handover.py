"""What a backend's threads hand the engine thread many times a run: submissions and callbacks.

``apply_async`` and ``submit`` hand tasks over one at a time, and every task's completion callback
runs on a parent thread: a record object and a queue operation each, per task, on both sides, was
most of the engine thread's CPU in a 200k-task ``apply_async`` run (~2.6 of 3.2 s), taken while
the submitter and the Pool's result thread held the GIL the rest of the time. Here a task costs a
lock and two array appends on the producing thread, and the engine takes everything waiting as
arrays in one call (:class:`SubmissionLog`, :class:`CallbackLog`). Bulk hand-overs (a map's whole
plan) still travel as one :class:`~procviz.engine.events.Submitted` each.

Each log has any number of writers (backend threads) and one reader (the engine thread).
"""

from __future__ import annotations

import threading
from array import array

import numpy as np

from procviz.engine.events import CALLBACK_DTYPE, Submitted

_NO_CALLBACKS = np.zeros(0, dtype=CALLBACK_DTYPE)
_NO_CALLBACKS.flags.writeable = False  # shared by every empty take


class SubmissionLog:
    """Tasks handed to the backend, and when: many at once (:meth:`put`) or one by one (:meth:`put_one`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[Submitted] = []
        self._ids = array("q")
        self._times = array("q")

    def put(self, sub: Submitted) -> None:
        """Tasks handed over together, at one time."""
        with self._lock:
            self._parts.append(sub)

    def put_one(self, task_id: int, t_ns: int) -> None:
        """One task handed over at ``t_ns`` (``apply_async``, ``submit``)."""
        with self._lock:
            self._ids.append(task_id)
            self._times.append(t_ns)

    def take(self) -> list[Submitted]:
        """Everything handed over since the last take: the bulk hand-overs as they came, then the
        tasks handed over one by one as one record with each task's own time."""
        with self._lock:
            parts, ids, times = self._parts, self._ids, self._times
            if not parts and not ids:
                return []
            self._parts, self._ids, self._times = [], array("q"), array("q")
        if ids:  # viewed, not copied: this log writes into new arrays from now on
            parts.append(Submitted(np.frombuffer(ids, dtype=np.int64), np.frombuffer(times, dtype=np.int64)))
        return parts


class CallbackLog:
    """Completion callbacks that ran on the parent's threads (drawn on its lanes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows = array("q")
        self._labels: dict[str, int] = {}

    def put(self, tid: int, start_ns: int, end_ns: int, label: str) -> None:
        """A callback ran on native thread ``tid`` from ``start_ns`` to ``end_ns``."""
        with self._lock:
            code = self._labels.get(label)
            if code is None:
                code = self._labels[label] = len(self._labels)
            self._rows.extend((tid, start_ns, end_ns, code))

    def take(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """(rows, labels): the callbacks since the last take, one :data:`CALLBACK_DTYPE` row each
        (its ``label`` an index into ``labels``)."""
        with self._lock:
            rows = self._rows
            if not rows:
                return _NO_CALLBACKS, ()
            self._rows = array("q")  # the rows taken are viewed, not copied: this log writes anew
            labels = tuple(self._labels)
        return np.frombuffer(rows, dtype=CALLBACK_DTYPE), labels
