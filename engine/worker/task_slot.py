"""The task a worker process is in, kept where it outlives the worker: a culprit's name.

A worker buffers its events for a few milliseconds (see :mod:`procviz.engine.worker.instrument`).
A task that segfaults or calls ``os._exit`` as its first act takes its START row down with the
worker, and the engine would see a death but not whose. So each worker process maps an 8-byte
file in the run's folder (next to the event socket, removed with it) and stores the id of each
task it begins there: one store into shared memory per task (~80 ns by
``benchmarks/bench_faults.py``), no system call. The file outlives the process; when a worker
dies abnormally, the engine reads it (:func:`task_of`): the last task the worker began. If that
task's END never arrived, the worker died in it or just after it, before its events left: the
engine names it with the death's signal or exit code and PID, at once. (No second store at the
task's end: the worker CPU per task is the budget of issue 10, and the END's arrival already
tells a finished task.)

Standard library only (worker side).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import sys

IDLE = -1


def slot_path(address: str, pid: int) -> str:
    """The slot file of worker ``pid`` of the run whose event socket is ``address``."""
    return os.path.join(os.path.dirname(address), f"task-{pid}")


class TaskSlot:
    """This process's slot: ``slot.ids[0] = task_id`` as a task begins (``IDLE`` before the first).

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


def task_of(address: str, pid: int) -> int | None:
    """The last task worker ``pid`` began; None before its first task, or unknown."""
    try:
        with open(slot_path(address, pid), "rb") as f:
            raw = f.read(8)
    except OSError:
        return None
    if len(raw) != 8:
        return None
    task = int.from_bytes(raw, sys.byteorder, signed=True)
    return task if task >= 0 else None
