"""The task a worker process is in, kept where it outlives the worker: a culprit's name.

A worker buffers its events for a few milliseconds (see :mod:`procviz.engine.worker.recorder`).
A task that segfaults or calls ``os._exit`` as its first act takes its START row down with the
worker, and the engine would see a death but not whose. So each worker process maps a file in the
run's folder (next to the event socket, removed with it): 8 bytes where it stores the id of each
task it begins (one store into shared memory per task, no system call), then the ring its main
thread packs its task rows into (:class:`~procviz.engine.worker.recorder.ThreadMeter`). A task's
row in the ring says it ended: nothing more is written for that. The file outlives the process;
when a worker dies abnormally, the engine reads it (:func:`task_of`, :func:`finished_task_of`):

* in a task (no row of it in the ring): the worker died in it, or in its recording before its
  row was written: the engine names it with the death's signal or exit code and PID, at once;
* between tasks (the slot's task has its row): the last task finished; its events may have gone
  down with the worker unsent, but it is not the culprit.

The ring cannot have lost that row by then: it is the last row the process wrote, and the next
one comes only after the next task's id is stored. Standard library only (worker side).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import struct
import sys

from procviz.engine.worker.wire import WIRE_EVENT_STRUCT

IDLE = -1  # before the first task
_ROW_SIZE = WIRE_EVENT_STRUCT.size
_ROW_FIELDS = _ROW_SIZE // 8  # a wire row as 8-byte fields: (kind, status, tid), task id, ... (worker/wire.py)
_TASK_FIELD = struct.calcsize("<BBxxi") // 8


def slot_path(address: str, pid: int) -> str:
    """The slot file of worker ``pid`` of the run whose event socket is ``address``."""
    return os.path.join(os.path.dirname(address), f"task-{pid}")


class TaskSlot:
    """This process's slot: ``slot.ids[0] = task_id`` as a task begins (``IDLE`` before the
    first), and ``slot.ring``: ``ring_bytes`` of shared memory for its main thread's rows (None
    where there is no file).

    Only in worker *processes* (multiprocessing children): a thread of the engine's process has no
    death of its own to explain.
    """

    __slots__ = ("ids", "ring", "_map")

    def __init__(self, address: str, ring_bytes: int = 0) -> None:
        self._map: mmap.mmap | None = None
        self.ids = memoryview(bytearray(8)).cast("q")  # a slot nobody reads
        self.ids[0] = IDLE
        self.ring: memoryview | None = None
        if multiprocessing.parent_process() is None:
            return  # threads of the engine's own process: their death is the engine's
        try:
            fd = os.open(slot_path(address, os.getpid()), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.pwrite(fd, IDLE.to_bytes(8, sys.byteorder, signed=True), 0)
                os.ftruncate(fd, 8 + ring_bytes)
                self._map = mmap.mmap(fd, 8 + ring_bytes)
            finally:
                os.close(fd)
            view = memoryview(self._map)
            self.ids = view[:8].cast("q")
            self.ring = view[8:] if ring_bytes else None
        except (OSError, ValueError):
            pass  # no folder (not an engine's run)


def _slot_state(address: str, pid: int) -> tuple[int, bool] | None:
    """(the slot's task id or IDLE, whether the ring holds that task's row), None if unreadable."""
    try:
        with open(slot_path(address, pid), "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if len(raw) < 8:
        return None
    value = int.from_bytes(raw[:8], sys.byteorder, signed=True)
    if value < 0:
        return value, False
    # The ring holds only this process's main thread's SPAN rows (and unwritten ones, task id -1):
    # the task ended if its id is among the rows' task ids, searched in C (the engine reads this
    # at every worker exit, and a ring holds thousands of rows).
    rows = memoryview(raw)[8 : 8 + (len(raw) - 8) // _ROW_SIZE * _ROW_SIZE]
    ids = rows.cast("q")[_TASK_FIELD::_ROW_FIELDS].tobytes()  # the rows' task ids: their wire bytes, 8 each
    needle = value.to_bytes(8, "little", signed=True)
    at = ids.find(needle)
    while at >= 0 and at % 8:
        at = ids.find(needle, at + 1)
    return value, at >= 0


def task_of(address: str, pid: int) -> int | None:
    """The task worker ``pid`` is in (or died in); None between tasks, before the first, or unknown."""
    state = _slot_state(address, pid)
    return state[0] if state is not None and state[0] >= 0 and not state[1] else None


def still_in(address: str, pid: int, task: int) -> bool | None:
    """Whether worker ``pid`` is still in ``task``: False once that task's row is in its ring or
    it began another (the task ended; its END may still be on its way); None if unreadable."""
    state = _slot_state(address, pid)
    if state is None or state[0] < 0:  # no slot, or one that never saw a task: cannot tell
        return None
    return state[0] == task and not state[1]


def finished_task_of(address: str, pid: int) -> int | None:
    """The task worker ``pid`` finished last, if it is between tasks; else None."""
    state = _slot_state(address, pid)
    return state[0] if state is not None and state[0] >= 0 and state[1] else None
