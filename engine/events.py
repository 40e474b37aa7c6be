"""The records that cross process and thread boundaries.

Four hops (see the data-flow diagram in ``engine/runner.py``); this module imports no other
procviz module but the worker side's wire records (:mod:`procviz.engine.worker.wire`), which it
re-exports:

* parent -> worker process: a plain ``(task id, args)`` tuple per task, mapped with
  ``functools.partial(run_task, function, report)`` (see :mod:`procviz.engine.plan`).
* worker process -> engine thread: a :class:`WorkerBatch` per datagram. Its task events are packed
  rows of :data:`WIRE_EVENT_DTYPE` (48 bytes each, written with ``struct.pack_into`` in the worker
  so the per-task cost stays near a microsecond); failures and result texts ride along as
  :class:`TaskText` records.
* backend -> engine thread: :class:`Submitted`, :class:`WorkerExit` and :class:`TaskVerdict`,
  put on the backend's queues and logs and picked up by the engine thread; tasks handed over one
  by one and completion callbacks as rows of :mod:`procviz.engine.backends.handover`'s logs.
* engine thread -> consumer (GUI or CLI): an :class:`EngineBatch` per hand-off, already translated
  from PIDs to lanes, holding numpy arrays that :meth:`engine.timeline.Timeline.apply` consumes
  in bulk.

Every timestamp is ``time.monotonic_ns()`` of the host (one clock shared by all its processes).
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np

# The wire records are defined on the worker side (standard library only) and re-exported here.
from procviz.engine.worker.wire import (  # noqa: F401 - re-exported
    WIRE_EVENT_FIELDS,
    WIRE_EVENT_STRUCT,
    EventKind,
    LaneKind,
    TaskState,
    TaskText,
    WaitSpan,
    WorkerBatch,
    WorkerHello,
)


class WorkerState(IntEnum):
    """The five process states of the tutorials, as measured (definitions in DESIGN.md)."""

    NEW = 0
    READY = 1
    RUNNING = 2
    WAITING = 3
    TERMINATED = 4


# The worker packs rows with WIRE_EVENT_STRUCT (worker/wire.py); the engine reads them through this dtype.
WIRE_EVENT_DTYPE = np.dtype(
    [
        ("kind", "u1"),
        ("status", "u1"),
        ("_pad", "u2"),
        ("tid", "<i4"),
        ("task_id", "<i8"),
        ("t_ns", "<i8"),
        ("cpu_ns", "<i8"),
        ("ready_ns", "<i8"),
        ("spare", "<i8"),
    ]
)
assert WIRE_EVENT_DTYPE.itemsize == WIRE_EVENT_STRUCT.size


# ---- backend -> engine thread ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submitted:
    """Tasks handed to the backend (they are queued from then on): all at ``t_ns``, or each at its
    own time when ``t_ns`` is an array beside ``task_ids`` (see engine/backends/handover.py)."""

    task_ids: np.ndarray
    t_ns: int | np.ndarray


@dataclass(frozen=True, slots=True)
class WorkerExit:
    """A worker process that has exited, as its parent saw it."""

    pid: int
    exit_code: int | None
    t_ns: int
    # What to say of the task it was running, when the backend knows better than the exit code
    # (e.g. "worker pid 7 was terminated by ProcessPoolExecutor while running this task: the pool
    # broke when worker pid 12 was killed by SIGKILL"); "" = the engine describes the exit code.
    reason: str = ""


def describe_exit(code: int | None) -> str:
    """'exited with code 3' or 'killed by SIGKILL' for a multiprocessing exit code."""
    if code is None:
        return "vanished (exit code unknown)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass(frozen=True, slots=True)
class TaskVerdict:
    """Tasks the backend knows are over although no worker will ever report them.

    E.g. every task still pending on a ProcessPoolExecutor that broke (one dead worker fails all
    its futures), or a task whose Process died before it could start. The engine ends those of
    ``task_ids`` that are not yet finished, with ``reason`` as their error text. A verdict is put
    *after* the WorkerExit that caused it, so the culprit's own task keeps its "worker died" text.
    """

    task_ids: np.ndarray
    reason_type: str  # e.g. "BrokenProcessPool"
    reason: str
    t_ns: int
    state: TaskState = TaskState.FAILED  # CANCELLED: never begun, through no fault of its own


# ---- engine -> consumer ------------------------------------------------------------------------

# Task rows are aligned structs (padding after ``lane``/``state``): numpy reads and writes aligned
# fields on its fast paths, unaligned ones 3-4x slower (the parent's CPU per event).
SUBMIT_DTYPE = np.dtype([("task_id", "<i8"), ("t_ns", "<i8")])
START_DTYPE = np.dtype([("task_id", "<i8"), ("lane", "<i4"), ("t_ns", "<i8")], align=True)
END_DTYPE = np.dtype(
    [
        ("task_id", "<i8"),
        ("lane", "<i4"),
        ("state", "u1"),
        ("start_ns", "<i8"),  # -1 when the task never started (cancelled, lost)
        ("end_ns", "<i8"),  # when it ended, started or not (a task the engine ended before it started: then)
        ("cpu_ns", "<i8"),
        ("ready_ns", "<i8"),  # -1 = not measured
    ],
    align=True,
)
INTERVAL_DTYPE = np.dtype(
    [
        ("lane", "<i4"),
        ("state", "u1"),
        ("start_ns", "<i8"),
        ("end_ns", "<i8"),
        ("cpu_ns", "<i8"),
        ("ready_ns", "<i8"),
    ]
)
RESOURCE_DTYPE = np.dtype([("lane", "<i4"), ("t_ns", "<i8"), ("cpu_pct", "<f4"), ("rss", "<i8")])
SPAN_DTYPE = np.dtype([("lane", "<i4"), ("start_ns", "<i8"), ("end_ns", "<i8"), ("label", "<i4")])
# A completion callback that ran on a parent thread (engine/backends/handover.py): native thread
# id, start and end, and its label as an index into the labels handed over with the rows. Native
# byte order: the rows are a view of the log's array("q"), never sent anywhere.
CALLBACK_DTYPE = np.dtype([("tid", "=i8"), ("start_ns", "=i8"), ("end_ns", "=i8"), ("label", "=i8")])
# The machine lane (engine/machine.py): busy and own shares of the run's CPUs over a window.
MACHINE_DTYPE = np.dtype([("start_ns", "<i8"), ("end_ns", "<i8"), ("cpus", "<u2"), ("busy", "<f4"), ("own", "<f4")])


_EMPTY: dict[np.dtype, np.ndarray] = {}


def empty(dtype: np.dtype) -> np.ndarray:
    """A zero-length array of ``dtype`` (the default for batch fields): one per dtype, shared (a
    batch is made every engine pass, and nothing can be written into an array of no rows)."""
    out = _EMPTY.get(dtype)
    if out is None:
        out = _EMPTY[dtype] = np.zeros(0, dtype=dtype)
    return out


def _raw(rows: np.ndarray) -> np.ndarray:
    """The same rows as opaque bytes: numpy copies a structured array field by field (10-20x
    slower than moving its rows whole), an opaque one as plain memory."""
    return rows.view(np.dtype((np.void, rows.dtype.itemsize)))


def concat_rows(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """``np.concatenate(parts)`` of structured rows of ``dtype``, moved as raw rows."""
    if not parts:
        return np.zeros(0, dtype)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([_raw(p) for p in parts]).view(dtype)


@dataclass(frozen=True, slots=True)
class LaneInfo:
    """Everything known about one lane (a worker process or thread, or the parent's callbacks).

    Sent whole whenever anything about the lane changes; the receiver replaces its copy.
    """

    index: int
    pid: int
    tid: int
    kind: LaneKind
    name: str
    created_ns: int = -1
    ready_ns: int = -1
    exit_ns: int = -1
    exit_code: int | None = None
    exit_reason: str = ""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a run is: sent once, first, so the receiver can size its arrays."""

    n_tasks: int
    t0_ns: int
    config: dict  # the RunConfig as plain JSON data (RunConfig.to_json())
    host: str
    cpu_count: int
    schedstat: bool
    arg_texts: tuple[str, ...] = ()  # per task, when cheap to show; else derived from config
    cost_ms: Sequence[float] = ()  # planned duration per task for built-in workloads (a tuple or ArrayColumn)
    chunks: Sequence[int] = ()  # chunk number per task (a tuple or ArrayColumn)


class RunOutcome(StrEnum):
    """How a run ended; the CLI's exit code follows from it."""

    COMPLETED = "completed"  # every task done
    FAILED = "failed"  # some task failed or timed out
    STOPPED = "stopped"  # by the user (Stop, SIGINT, SIGTERM)
    ERROR = "error"  # the run itself failed (submitting, workers that cannot start, an engine bug)
    INVALID = "invalid"  # nothing ran: the input is invalid (e.g. the workload function cannot be imported)


class RunPhase(IntEnum):
    """Coarse phase of a run, for progress and the status bar."""

    STARTING = 0
    RUNNING = 1
    STOPPING = 2
    FINISHED = 3


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A change of run phase with a human-readable message (errors included)."""

    phase: RunPhase
    message: str = ""
    outcome: RunOutcome | None = None  # with FINISHED


@dataclass(frozen=True, slots=True)
class EngineBatch:
    """What the engine hands its consumer in one go; fields left empty when nothing changed."""

    run: RunInfo | None = None
    lanes: tuple[LaneInfo, ...] = ()
    submitted: np.ndarray = field(default_factory=lambda: empty(SUBMIT_DTYPE))
    started: np.ndarray = field(default_factory=lambda: empty(START_DTYPE))
    ended: np.ndarray = field(default_factory=lambda: empty(END_DTYPE))
    intervals: np.ndarray = field(default_factory=lambda: empty(INTERVAL_DTYPE))
    resources: np.ndarray = field(default_factory=lambda: empty(RESOURCE_DTYPE))
    spans: np.ndarray = field(default_factory=lambda: empty(SPAN_DTYPE))
    machine: np.ndarray = field(default_factory=lambda: empty(MACHINE_DTYPE))
    span_labels: tuple[str, ...] = ()  # new labels, appended in order to the receiver's list
    texts: tuple[TaskText, ...] = ()
    # Texts the engine gave many tasks at once (a Stop, a lost chunk): (task ids, one text whose
    # task_id is -1). A Stop of a million-task run makes one text, not a million.
    shared_texts: tuple[tuple[np.ndarray, TaskText], ...] = ()
    status: RunStatus | None = None
    now_ns: int = 0  # the engine's clock when the batch was cut: the live edge
    # START events not in ``started``: a task that started and ended between two cuts travels as
    # one ``ended`` row that carries its start (``start_ns``), half the rows for short tasks.
    starts_in_ends: int = 0

    def event_count(self) -> int:
        """How many task events this batch carries (for rates in the status bar)."""
        return len(self.submitted) + len(self.started) + len(self.ended) + self.starts_in_ends
