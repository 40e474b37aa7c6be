"""The task a worker process is in, kept where it outlives the worker: a culprit's name.

A worker buffers its events for a few milliseconds (see :mod:`procviz.engine.worker.instrument`).
A task that segfaults or calls ``os._exit`` as its first act takes its START row down with the
worker, and the engine would see a death but not whose. So each worker process maps an 8-byte
file in the run's folder (next to the event socket, removed with it) and stores there the id of
each task it begins, and :func:`finished` of that id as the task ends: two stores into shared
memory per task (~40 ns each), no system call. The file outlives the process; when a worker dies
abnormally, the engine reads it (:func:`task_of`, :func:`finished_task_of`):

* in a task: the worker died in it (or in its recording, before its events left): the engine
  names it with the death's signal or exit code and PID, at once;
* between tasks (idle): the last task finished; its events may have gone down with the worker
  unsent, but it is not the culprit.

Standard library only (worker side).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import sys

IDLE = -1  # before the first task


def finished(task_id: int) -> int:
    """The slot's value once ``task_id`` has ended (negative, below ``IDLE``)."""
    return -2 - task_id


def slot_path(address: str, pid: int) -> str:
    """The slot file of worker ``pid`` of the run whose event socket is ``address``."""
    return os.path.join(os.path.dirname(address), f"task-{pid}")


class TaskSlot:
    """This process's slot: ``slot.ids[0] = task_id`` as a task begins, ``finished(task_id)`` as it
    ends (``IDLE`` before the first).

    Only in worker *processes* (multiprocessing children): a thread of the engine's process has no
    death of its own to explain.
    """

    __slots__ = ("ids", "_map")

    def __init__(self, address: str) -> None:
        self._map: mmap.mmap | None = None
        self.ids = memoryview(bytearray(8)).cast("q")  # a slot nobody reads
        if multiprocessing.parent_process() is None:
            return  # threads of the engine's own process: their death is the engine's
        try:
            fd = os.open(slot_path(address, os.getpid()), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.pwrite(fd, IDLE.to_bytes(8, sys.byteorder, signed=True), 0)
                self._map = mmap.mmap(fd, 8)
            finally:
                os.close(fd)
            self.ids = memoryview(self._map).cast("q")
        except (OSError, ValueError):
            pass  # no folder (not an engine's run)


def _slot_value(address: str, pid: int) -> int | None:
    try:
        with open(slot_path(address, pid), "rb") as f:
            raw = f.read(8)
    except OSError:
        return None
    return int.from_bytes(raw, sys.byteorder, signed=True) if len(raw) == 8 else None


def task_of(address: str, pid: int) -> int | None:
    """The task worker ``pid`` is in (or died in); None between tasks, before the first, or unknown."""
    value = _slot_value(address, pid)
    return value if value is not None and value >= 0 else None


def finished_task_of(address: str, pid: int) -> int | None:
    """The task worker ``pid`` finished last, if it is between tasks; else None."""
    value = _slot_value(address, pid)
    return -2 - value if value is not None and value < IDLE else None
