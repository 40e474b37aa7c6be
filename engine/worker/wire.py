"""The worker -> engine wire format: packed event rows and the records that ride with them.

Workers import only the standard library, so the 48-byte event row is defined here as a
:class:`struct.Struct`; the engine reads the same bytes through a numpy dtype
(:data:`procviz.engine.events.WIRE_EVENT_DTYPE`), and a test checks that both agree field by field.
The records are defined here, once: a worker pickles them and the engine unpickles the same
classes (the engine re-exports them from :mod:`procviz.engine.events`). This module is the bottom
layer: it imports no other procviz module.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class TaskState(IntEnum):
    """Where a task is in its life. The last four are terminal: a task ends in exactly one."""

    PENDING = 0  # planned, not yet handed to the backend
    QUEUED = 1  # submitted, no worker has started it
    RUNNING = 2
    DONE = 3
    FAILED = 4
    TIMEOUT = 5
    CANCELLED = 6

    @property
    def terminal(self) -> bool:
        """True for done, failed, timeout and cancelled."""
        return self >= TaskState.DONE


class LaneKind(StrEnum):
    """What a lane is: a worker process, a worker thread, or the parent's callback threads."""

    PROCESS = "process"
    THREAD = "thread"
    PARENT = "parent"


class EventKind(IntEnum):
    """Kind of a packed worker event row."""

    START = 1
    END = 2


# Packed worker event: kind, status (TaskState for END), tid, task id, time, thread CPU delta,
# run-queue wait delta (-1 = not measurable on this host), spare. Little-endian, 48 bytes.
WIRE_EVENT_STRUCT = struct.Struct("<BBxxiqqqqq")
# Field names in row order (the pad bytes have none): the engine's dtype must list the same.
WIRE_EVENT_FIELDS = ("kind", "status", "tid", "task_id", "t_ns", "cpu_ns", "ready_ns", "spare")


@dataclass(frozen=True, slots=True)
class TaskText:
    """Text attached to a task: its error (type, message, traceback) or a short repr of its result."""

    task_id: int
    kind: str  # "error" or "result"
    type_name: str = ""
    message: str = ""
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class WorkerHello:
    """A worker announcing itself once its initializer has run.

    ``created_ns`` is when the kernel created the process (from /proc/self/stat, 10 ms steps) or,
    where that is unknown, the earliest time the worker could observe.
    """

    pid: int
    tid: int
    created_ns: int
    ready_ns: int
    schedstat: bool  # whether run-queue wait is measurable here
    kind: LaneKind = LaneKind.PROCESS  # a process or a thread
    name: str = ""
    cpu_ns: int = -1  # the thread's schedstat at ready_ns (the sampler's baseline); -1 = not read
    wait_ns: int = -1


@dataclass(frozen=True, slots=True)
class WaitSpan:
    """A span a worker spent blocked in an instrumented primitive (lock acquire, queue get, ...)."""

    tid: int
    start_ns: int
    end_ns: int
    what: str  # e.g. "lock.acquire", "queue.put"


@dataclass(frozen=True, slots=True)
class WorkerBatch:
    """One datagram from one worker: its events since the last flush, numbered per worker.

    ``seq`` counts batches per (pid, tid) so the engine can tell a gap (a lost datagram) from a
    worker that simply went quiet.
    """

    pid: int
    seq: int
    rows: bytes  # packed WIRE_EVENT_DTYPE rows
    texts: tuple[TaskText, ...] = ()
    hello: WorkerHello | None = None
    waits: tuple[WaitSpan, ...] = ()
    goodbye: bool = False  # the worker is exiting normally; nothing follows
