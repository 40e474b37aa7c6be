"""The task a worker process is in, kept where it outlives the worker: a culprit's name.

A worker buffers its events for a few milliseconds (see :mod:`procviz.engine.worker.recorder`).
A task that segfaults or calls ``os._exit`` as its first act takes its START row down with the
worker, and the engine would see a death but not whose. So each worker process maps a file in the
run's folder (next to the event socket, removed with it): 24 bytes where it stores the start and
the id of each task it begins (two stores into shared memory per task, no system call) and the
start of the group of short tasks whose on-CPU times are not settled yet (see
:func:`procviz.engine.worker.instrument._run_coarse`), then the ring its main thread packs its task
rows into (:class:`~procviz.engine.worker.recorder.ThreadMeter`).
A task's row in the ring says it ended: nothing more is written for that. The file outlives the
process; when a worker dies abnormally, the engine reads it (:func:`task_of`,
:func:`finished_task_of`):

* in a task (no row of it in the ring): the worker died in it, or in its recording before its
  row was written: the engine starts it where the slot says, on the worker's lane, and fails it
  there with the death's signal or exit code and PID, at once;
* between tasks (the slot's task has its row): the last task finished; its events may have gone
  down with the worker unsent, but it is not the culprit.

The ring cannot have lost that row by then: it is the last row the process wrote, and the next
one comes only after the next task's id is stored.

The engine reads a live worker's slot too, to time tasks out (:func:`read_slot`): a task's END
reaches it a few ms late, and a task after it that holds the GIL keeps the worker's flusher from
sending anything at all; the slot says which task the worker is in and since when, and the ring
holds the row of the task before. Standard library only (worker side).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import struct
import sys
from collections.abc import Callable

from procviz.engine.worker.wire import WIRE_EVENT_STRUCT

IDLE = -1  # before the first task
# The slot: the id of the task the worker began last, then its start (time.monotonic_ns), then the
# start of the open group of short tasks (rows of tasks begun at or after it carry a provisional
# on-CPU time, on-CPU = wall, until the group's CPU clock reading settles them), 8 bytes each; the
# ring follows. The start is stored before the id: a reader that sees an id sees its start.
SLOT_BYTES = 24
HEAD_BYTES = 16  # the task and its start
NO_GROUP = 1 << 62  # no group open: every row in the ring is settled
_ROW_SIZE = WIRE_EVENT_STRUCT.size
_ROW_FIELDS = _ROW_SIZE // 8  # a wire row as 8-byte fields: (kind, status, tid), task id, ... (worker/wire.py)
_TASK_FIELD = struct.calcsize("<BBxxi") // 8
_CPU_FIELD, _SPARE_FIELD = _TASK_FIELD + 2, _TASK_FIELD + 4  # a row's on-CPU time and its start


def slot_path(address: str, pid: int) -> str:
    """The slot file of worker ``pid`` of the run whose event socket is ``address``."""
    return os.path.join(os.path.dirname(address), f"task-{pid}")


class TaskSlot:
    """This process's slot: ``slot.ids[1] = start`` then ``slot.ids[0] = task_id`` as a task
    begins (``IDLE`` before the first), and ``slot.ring``: ``ring_bytes`` of shared memory for its
    main thread's rows (None where there is no file).

    Only in worker *processes* (multiprocessing children): a thread of the engine's process has no
    death of its own to explain.
    """

    __slots__ = ("ids", "ring", "_map")

    def __init__(self, address: str, ring_bytes: int = 0) -> None:
        self._map: mmap.mmap | None = None
        self.ids = private_slot()  # a slot nobody reads
        self.ring: memoryview | None = None
        if multiprocessing.parent_process() is None:
            return  # threads of the engine's own process: their death is the engine's
        try:
            fd = os.open(slot_path(address, os.getpid()), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.pwrite(fd, _fresh_slot(), 0)
                os.ftruncate(fd, SLOT_BYTES + ring_bytes)
                self._map = mmap.mmap(fd, SLOT_BYTES + ring_bytes)
            finally:
                os.close(fd)
            view = memoryview(self._map)
            self.ids = view[:SLOT_BYTES].cast("q")
            self.ring = view[SLOT_BYTES:] if ring_bytes else None
        except (OSError, ValueError):
            pass  # no folder (not an engine's run)


def _fresh_slot() -> bytes:
    return b"".join(v.to_bytes(8, sys.byteorder, signed=True) for v in (IDLE, 0, NO_GROUP))


def private_slot() -> memoryview:
    """A slot in this process's own memory (a thread other than a worker process's main thread)."""
    return memoryview(bytearray(_fresh_slot())).cast("q")


def _field(raw: bytes, k: int) -> int:
    return int.from_bytes(raw[8 * k : 8 * k + 8], sys.byteorder, signed=True)


def _head(raw: bytes) -> tuple[int, int]:
    """(task id or IDLE, its start) from a slot's first HEAD_BYTES."""
    return _field(raw, 0), _field(raw, 1)


class SlotView:
    """A worker's slot as the engine read it: the task it began last (``task``, IDLE before the
    first), when (``started_ns``), whether that task's row is in the ring (``ended``), and the
    ring's rows themselves (:meth:`rows_of`)."""

    __slots__ = ("task", "started_ns", "open_since", "ended", "_rows", "_ids")

    def __init__(self, raw: bytes, open_after: int = NO_GROUP) -> None:
        self.task, self.started_ns = _head(raw)
        # Rows of tasks begun since: on-CPU not settled. A live worker's slot is read while it
        # writes: ``open_after`` is the open group's start read again once the ring was (a group
        # opened during the copy); group starts only grow, so the earlier reading, if any, covers both.
        before = _field(raw, 2)
        self.open_since = before if before < NO_GROUP else open_after
        # The ring holds only this process's main thread's SPAN rows (and unwritten ones, task id -1);
        # searched in C (the engine reads slots at every worker exit, and a ring holds thousands of rows).
        size = len(raw) - SLOT_BYTES
        self._rows = memoryview(raw)[SLOT_BYTES : SLOT_BYTES + size // _ROW_SIZE * _ROW_SIZE]
        self._ids = self._rows.cast("q")[_TASK_FIELD::_ROW_FIELDS].tobytes()  # the rows' task ids, 8 bytes each
        self.ended = self.task >= 0 and self._find(self.task) >= 0

    def _find(self, task: int) -> int:
        """The index of ``task``'s row in the ring, -1 if none."""
        needle = task.to_bytes(8, "little", signed=True)
        at = self._ids.find(needle)
        while at >= 0 and at % 8:
            at = self._ids.find(needle, at + 1)
        return at // 8 if at >= 0 else -1

    def rows_of(self, wanted: Callable[[int], bool]) -> bytes:
        """The ring's rows (wire bytes) of the tasks ``wanted`` says yes to, oldest first; a row
        of the open group (its on-CPU time provisional: the worker had not read its CPU clock yet)
        says on-CPU unmeasured, -1."""
        fields = self._rows.cast("q")
        ids, ends = fields[_TASK_FIELD::_ROW_FIELDS].tolist(), fields[_TASK_FIELD + 1::_ROW_FIELDS].tolist()
        # A ring is written round and round: in the order of the tasks' ends, not of its room.
        order = sorted((end, i) for i, (task, end) in enumerate(zip(ids, ends, strict=True))
                       if task >= 0 and wanted(task))
        out = bytearray(b"".join(bytes(self._rows[i * _ROW_SIZE : (i + 1) * _ROW_SIZE]) for _, i in order))
        if out:
            rows = memoryview(out).cast("q")
            for k in range(0, len(rows), _ROW_FIELDS):
                if rows[k + _SPARE_FIELD] >= self.open_since:
                    rows[k + _CPU_FIELD] = -1
        return bytes(out)


def read_slot(address: str, pid: int) -> SlotView | None:
    """Worker ``pid``'s slot, None if unreadable (no file: not a worker process, or none yet)."""
    try:
        with open(slot_path(address, pid), "rb") as f:
            raw = f.read()
            after = os.pread(f.fileno(), SLOT_BYTES, 0)
    except OSError:
        return None
    if len(raw) < SLOT_BYTES:
        return None
    return SlotView(raw, _field(after, 2) if len(after) >= SLOT_BYTES else NO_GROUP)


def read_slot_head(address: str, pid: int) -> tuple[int, int] | None:
    """(the task worker ``pid`` began last or IDLE, its start) from the slot's first HEAD_BYTES, its
    ring left unread (a ring is ~400 kB); None if unreadable."""
    try:
        fd = os.open(slot_path(address, pid), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.pread(fd, HEAD_BYTES, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _head(raw) if len(raw) >= HEAD_BYTES else None


def task_of(address: str, pid: int) -> int | None:
    """The task worker ``pid`` is in (or died in); None between tasks, before the first, or unknown."""
    slot = read_slot(address, pid)
    return slot.task if slot is not None and slot.task >= 0 and not slot.ended else None


def finished_task_of(address: str, pid: int) -> int | None:
    """The task worker ``pid`` finished last, if it is between tasks; else None."""
    slot = read_slot(address, pid)
    return slot.task if slot is not None and slot.task >= 0 and slot.ended else None
