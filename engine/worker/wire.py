"""The worker -> engine wire format: packed event rows and the records that ride with them.

Workers import only the standard library, so the 48-byte event row is defined here as a
:class:`struct.Struct`; the engine reads the same bytes through a numpy dtype
(:data:`procviz.engine.events.WIRE_EVENT_DTYPE`), and a test checks that both agree field by field.
The records are defined here, once: a worker pickles them and the engine unpickles the same
classes (the engine re-exports them from :mod:`procviz.engine.events`). This module is the bottom
layer: it imports no other procviz module.

The records are small slotted classes written out by hand, not dataclasses: every worker imports
this module when it starts, and ``dataclasses`` (with the ``inspect`` it imports) plus making four
dataclasses cost each worker ~10-14 ms of CPU, where a bare ``Pool`` worker starts in ~60 ms.
"""

from __future__ import annotations

import struct
import sys
from enum import IntEnum, StrEnum
from typing import Any


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

    @property
    def ran(self) -> bool:
        """True for done, failed and timeout: the task ran to an end (a cancelled one never ran)."""
        return TaskState.DONE <= self <= TaskState.TIMEOUT


class LaneKind(StrEnum):
    """What a lane is: a worker process, a worker thread, or the parent's callback threads."""

    PROCESS = "process"
    THREAD = "thread"
    PARENT = "parent"


class EventKind(IntEnum):
    """Kind of a packed worker event row."""

    START = 1
    END = 2
    SPAN = 3  # a whole task in one row: its END, with its start time in ``spare``


# Packed worker event: kind, status (TaskState for END), tid, task id, time, thread CPU delta,
# run-queue wait delta (-1 = not measurable on this host), spare (a SPAN row's start time).
# Little-endian, 48 bytes.
WIRE_EVENT_STRUCT = struct.Struct("<BBxxiqqqqq")
# Field names in row order (the pad bytes have none): the engine's dtype must list the same.
WIRE_EVENT_FIELDS = ("kind", "status", "tid", "task_id", "t_ns", "cpu_ns", "ready_ns", "spare")
# The same bytes, packed faster where the host's own layout is the wire's (little-endian, 8-byte
# ssize_t): a native "n" field converts a clock's multi-digit int directly, where "<q" goes
# through a byte-array conversion; a worker's per-task pack costs about a third less.
_NATIVE = sys.byteorder == "little" and struct.calcsize("@BBxxinnnnn") == WIRE_EVENT_STRUCT.size \
    and struct.calcsize("@n") == 8
ROW_PACKER = struct.Struct("@BBxxinnnnn" if _NATIVE else WIRE_EVENT_STRUCT.format)
# A row's last five fields alone (task id, time, CPU, ready, spare), at byte 8 of a row whose
# first eight (kind, status, tid) a worker wrote once: its per-task pack takes five values, not eight.
PAYLOAD_OFFSET = 8
PAYLOAD_PACKER = struct.Struct("@nnnnn" if _NATIVE else "<qqqqq")


_set = object.__setattr__


class Record:
    """Base of the wire's records: immutable, slotted, compared, hashed and pickled by value.

    A subclass lists its fields in ``__slots__`` (in constructor order) and sets them in its
    ``__init__`` with ``object.__setattr__``; pickling calls the constructor with the fields.
    """

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self.__slots__])

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied (as ``dataclasses.replace``)."""
        return type(self)(**{**dict(zip(self.__slots__, self._values(), strict=True)), **changes})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self.__slots__, self._values(), strict=True))
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), self._values()


class TaskText(Record):
    """Text attached to a task: its error (type, message, traceback) or a short repr of its result.

    ``task_id`` -1: one text several tasks share (the reason the engine gave the tasks it ended
    together, ``EngineBatch.shared_texts``, or a text a file reader found word for word for several
    tasks); a timeline's ``texts`` maps each of them to it, so readers take a task's id from the key.
    """

    __slots__ = ("task_id", "kind", "type_name", "message", "traceback")
    task_id: int
    kind: str  # "error" or "result"
    type_name: str
    message: str
    traceback: str

    def __init__(self, task_id: int, kind: str, type_name: str = "", message: str = "", traceback: str = "") -> None:
        _set(self, "task_id", task_id)
        _set(self, "kind", kind)
        _set(self, "type_name", type_name)
        _set(self, "message", message)
        _set(self, "traceback", traceback)


class WorkerHello(Record):
    """A worker announcing itself once its initializer has run.

    ``created_ns`` is when the kernel created the process (from /proc/self/stat, 10 ms steps) or,
    where that is unknown, the earliest time the worker could observe. ``schedstat``: whether
    run-queue wait is measurable here; ``kind``: a process or a thread; ``cpu_ns``/``wait_ns``:
    the thread's schedstat at ``ready_ns`` (the sampler's baseline), -1 when not read.
    """

    __slots__ = ("pid", "tid", "created_ns", "ready_ns", "schedstat", "kind", "name", "cpu_ns", "wait_ns")
    pid: int
    tid: int
    created_ns: int
    ready_ns: int
    schedstat: bool
    kind: LaneKind
    name: str
    cpu_ns: int
    wait_ns: int

    def __init__(self, pid: int, tid: int, created_ns: int, ready_ns: int, schedstat: bool,
                 kind: LaneKind = LaneKind.PROCESS, name: str = "", cpu_ns: int = -1, wait_ns: int = -1) -> None:
        _set(self, "pid", pid)
        _set(self, "tid", tid)
        _set(self, "created_ns", created_ns)
        _set(self, "ready_ns", ready_ns)
        _set(self, "schedstat", schedstat)
        _set(self, "kind", kind)
        _set(self, "name", name)
        _set(self, "cpu_ns", cpu_ns)
        _set(self, "wait_ns", wait_ns)


class WaitSpan(Record):
    """A span a worker spent blocked in an instrumented primitive (lock acquire, queue get, ...)."""

    __slots__ = ("tid", "start_ns", "end_ns", "what")
    tid: int
    start_ns: int
    end_ns: int
    what: str  # e.g. "lock.acquire", "queue.put"

    def __init__(self, tid: int, start_ns: int, end_ns: int, what: str) -> None:
        _set(self, "tid", tid)
        _set(self, "start_ns", start_ns)
        _set(self, "end_ns", end_ns)
        _set(self, "what", what)


class WorkerBatch(Record):
    """One datagram from one worker: its events since the last flush, numbered per worker.

    ``seq`` counts batches per (pid, tid) so the engine can tell a gap (a lost datagram) from a
    worker that simply went quiet. ``rows``: packed WIRE_EVENT_DTYPE rows; ``goodbye``: the worker
    is exiting normally, nothing follows; ``final``: with a process worker's goodbye, its main
    thread's counters as it exits, (monotonic ns, on-CPU ns, run-queue wait ns): the end of its
    state strip when the process is gone before the engine can read it.
    """

    __slots__ = ("pid", "seq", "rows", "texts", "hello", "waits", "goodbye", "final")
    pid: int
    seq: int
    rows: bytes
    texts: tuple[TaskText, ...]
    hello: WorkerHello | None
    waits: tuple[WaitSpan, ...]
    goodbye: bool
    final: tuple[int, int, int] | None

    def __init__(self, pid: int, seq: int, rows: bytes, texts: tuple[TaskText, ...] = (),
                 hello: WorkerHello | None = None, waits: tuple[WaitSpan, ...] = (), goodbye: bool = False,
                 final: tuple[int, int, int] | None = None) -> None:
        _set(self, "pid", pid)
        _set(self, "seq", seq)
        _set(self, "rows", rows)
        _set(self, "texts", texts)
        _set(self, "hello", hello)
        _set(self, "waits", waits)
        _set(self, "goodbye", goodbye)
        _set(self, "final", final)
