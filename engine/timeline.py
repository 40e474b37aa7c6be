"""The Timeline model: what a run did, stored as columns, fed by engine batches or read from a file.

Tasks live in preallocated numpy columns indexed by task id (the workload's size is known when a
run starts), so a task costs 45 bytes of its own (37 while every task shares one submission time:
see ``submitted_ns``) and updates are fancy-indexed writes.
Worker state intervals, resource samples and wait spans grow as append-only columnar arrays.

The model knows nothing of views. A view subscribes with :meth:`Timeline.subscribe` and is told
after every :meth:`apply` what kind of thing changed. One thread writes a Timeline: the GUI
thread for the one it shows, the engine thread for its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from procviz.engine.events import (
    INTERVAL_DTYPE,
    MACHINE_DTYPE,
    RESOURCE_DTYPE,
    SPAN_DTYPE,
    EngineBatch,
    LaneInfo,
    LaneKind,
    RunInfo,
    RunStatus,
    TaskState,
    TaskText,
)


class GrowableColumns:
    """An append-only structured numpy array with amortised O(1) appends."""

    def __init__(self, dtype: np.dtype, capacity: int = 1024) -> None:
        self._buf = np.zeros(capacity, dtype=dtype)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def data(self) -> np.ndarray:
        """A view of the filled rows (do not keep it across appends)."""
        return self._buf[: self._n]

    def append(self, rows: np.ndarray) -> None:
        """Append rows of the same dtype."""
        k = len(rows)
        if k == 0:
            return
        if self._n + k > len(self._buf):
            grown = np.zeros(max(2 * len(self._buf), self._n + k), dtype=self._buf.dtype)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : self._n + k] = rows
        self._n += k

    def clear(self) -> None:
        """Drop every row, keep the capacity."""
        self._n = 0


TASK_SHIFT = 14
TASK_BLOCK = 1 << TASK_SHIFT  # task ids per block of derived figures (and per step of chunked sums)


def _adoptable(column: Any, current: np.ndarray) -> bool:
    """Whether ``column`` can stand as a task column as it is: same type and length, writable, dense."""
    return (isinstance(column, np.ndarray) and column.dtype == current.dtype and column.shape == current.shape
            and column.flags.writeable and column.flags.c_contiguous)


def _column(values: Sequence[Any], dtype: type, n: int, default: Callable[[], np.ndarray]) -> np.ndarray:
    """The task column for per-task run data: ``values`` as an array of ``dtype`` (an ArrayColumn
    of that dtype gives its own read-only array: shared with the RunInfo, no copy; a tuple becomes a
    new array), or ``default()`` when there are none."""
    if not len(values):
        return default()
    column: np.ndarray = np.asarray(values, dtype=dtype)
    if column.shape != (n,):
        raise ValueError(f"per-task run data has {len(values)} values for {n} tasks")
    return column


def _every_task_once(ids: np.ndarray, n: int) -> bool:
    """Whether ``ids`` lists each of the ``n`` task ids exactly once (a byte a task to check)."""
    if len(ids) != n or n == 0:
        return False
    seen = np.zeros(n, dtype=bool)
    seen[ids] = True
    return bool(seen.all())


@dataclass(frozen=True, slots=True)
class TimelineChange:
    """What one :meth:`Timeline.apply` changed, for subscribers to decide what to redraw."""

    reset: bool = False
    lanes: bool = False
    tasks: bool = False
    intervals: bool = False
    resources: bool = False
    status: bool = False
    machine: bool = False


Listener = Callable[[TimelineChange], None]


class Timeline:
    """Columnar record of one run: tasks, lanes, worker state intervals, resources, spans."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._clear()

    # ---- construction ---------------------------------------------------------------------------

    def _clear(self) -> None:
        self.run: RunInfo | None = None
        self.lanes: list[LaneInfo] = []
        # task id -> its text; one object may stand for many tasks (task_id -1, see TaskText)
        self.texts: dict[int, TaskText] = {}
        self.status: RunStatus | None = None
        self.now_ns = 0
        self._alloc(0)
        self.intervals = GrowableColumns(INTERVAL_DTYPE)
        self.resources = GrowableColumns(RESOURCE_DTYPE)
        self.spans = GrowableColumns(SPAN_DTYPE)
        self.machine = GrowableColumns(MACHINE_DTYPE, 256)  # the machine lane (engine/machine.py)
        self.span_labels: list[str] = []
        self.version = 0

    def _alloc(self, n: int, run: RunInfo | None = None, given: Mapping[str, np.ndarray] | None = None) -> None:
        # ``given``: task columns (of TASK_COLUMNS, ``n`` rows each) the caller already has, taken
        # as they are instead of being made here only to be replaced (see :meth:`begin`).
        given = given or {}

        def column(name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
            return given[name] if name in given else make()

        # Submission times are kept as one number while every task has the same (-1 before any
        # submission; a Pool's map submits every task at one time): the column (8 bytes a task)
        # is made on first read or on the first submission that differs.
        self._submitted_ns: np.ndarray | None = given.get("submitted_ns")
        self._submitted_all = -1
        self.start_ns = column("start_ns", lambda: np.full(n, -1, dtype=np.int64))
        self.end_ns = column("end_ns", lambda: np.full(n, -1, dtype=np.int64))
        self.cpu_ns = column("cpu_ns", lambda: np.full(n, -1, dtype=np.int64))
        self.ready_ns = column("ready_ns", lambda: np.full(n, -1, dtype=np.int64))
        self.lane = column("lane", lambda: np.full(n, -1, dtype=np.int32))
        self.state = column("state", lambda: np.zeros(n, dtype=np.uint8))  # TaskState.PENDING
        # Per-task run data the engine keeps as numpy (an ArrayColumn, read-only) is shared, not
        # copied: 12 bytes a task less at a million tasks. Tuples are copied into the columns.
        self.chunk = column("chunk", lambda: _column(run.chunks if run else (), np.int32, n,
                                                     lambda: np.arange(n, dtype=np.int32)))
        self.cost_ms = column("cost_ms", lambda: _column(run.cost_ms if run else (), np.float64, n,
                                                         lambda: np.full(n, np.nan)))
        # When each block of TASK_BLOCK task ids was last written (a stamp that only grows), so
        # that figures kept per block (the metrics' sums) are summed again only where something
        # changed: ``derived`` holds them, for this generation (run) of the columns only.
        self.block_stamp = np.zeros(-(-n // TASK_BLOCK), dtype=np.int64)
        self._stamp = 0
        self.generation = getattr(self, "generation", 0) + 1
        self.derived: dict[str, Any] = {}

    @property
    def stamped(self) -> bool:
        """Whether a write was noted since :meth:`begin` (else the block stamps say nothing: the
        columns were filled by hand, or by a file's reader, whose reset rebuilds every reader)."""
        return self._stamp > 0

    def touch_tasks(self, ids: np.ndarray | None = None) -> None:
        """Note a write to tasks ``ids`` (every task when None). apply and the write_* methods do
        it; call it after writing task columns directly (readers that fold what changed compare
        only the blocks noted: engine/written_blocks.py). load_columns does not: it replaces every
        column, a reset that every reader rebuilds from."""
        self._stamp += 1
        if ids is None:
            self.block_stamp[:] = self._stamp
            return
        ids = np.asarray(ids)
        for lo in range(0, len(ids), 1 << 16):  # a bounded temporary however many ids
            self.block_stamp[ids[lo:lo + (1 << 16)] >> TASK_SHIFT] = self._stamp

    def begin(self, run: RunInfo, given: Mapping[str, np.ndarray] | None = None) -> None:
        """Start a new run: forget everything and size the task columns.

        ``given``: task columns by name (of :attr:`TASK_COLUMNS`, ``run.n_tasks`` rows each, the
        Timeline's to keep) to take as they are; the others are made empty (a copy of another
        Timeline's columns then makes none only to replace it).
        """
        self._clear()
        self.run = run
        self._alloc(run.n_tasks, run, given)
        self.now_ns = run.t0_ns

    def forget(self) -> None:
        """Hold no run from now on (new, empty columns: arrays handed out before are left as they
        are) and tell the subscribers (a reset). The version goes on growing, as a file's adoption
        keeps it (gui/timeline_io.py)."""
        version = self.version
        self._clear()
        self.version = version
        self.notify(TimelineChange(reset=True))

    # ---- subscription ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def notify(self, change: TimelineChange) -> None:
        """Tell every subscriber about ``change`` (called by apply and by loaders)."""
        self.version += 1
        for listener in list(self._listeners):
            listener(change)

    # ---- updates --------------------------------------------------------------------------------

    def apply(self, batch: EngineBatch, notify: bool = True) -> TimelineChange:
        """Fold one engine batch into the columns (vectorised); returns what changed."""
        reset = batch.run is not None
        if batch.run is not None:
            self.begin(batch.run)
        for info in batch.lanes:
            while len(self.lanes) <= info.index:
                self.lanes.append(LaneInfo(index=len(self.lanes), pid=0, tid=0, kind=LaneKind.PROCESS, name=""))
            self.lanes[info.index] = info
        if len(batch.submitted):
            self.write_submitted(batch.submitted)
        if len(batch.started):
            self.write_started(batch.started)
        if len(batch.ended):
            self.write_ended(batch.ended)
        self.intervals.append(batch.intervals)
        self.resources.append(batch.resources)
        self.span_labels.extend(batch.span_labels)
        self.spans.append(batch.spans)
        self.machine.append(batch.machine)
        # The engine's shared texts first: a worker's own text of a task comes after the engine
        # ended it, never before (the tracker keeps a worker's text of a task already FAILED), and
        # wins, as it did in the engine's Timeline when both come in one batch.
        for ids, shared in batch.shared_texts:
            ids = ids[(ids >= 0) & (ids < self.n_tasks)]
            self.texts.update(dict.fromkeys(ids.tolist(), shared))
        for text in batch.texts:
            # Only a task the run has: a text of another would be written into files that every
            # reader (procviz's own included) then refuses.
            if 0 <= text.task_id < self.n_tasks:
                self.texts[text.task_id] = text
        if batch.status is not None:
            self.status = batch.status
        if batch.now_ns:
            self.now_ns = max(self.now_ns, batch.now_ns)
        change = TimelineChange(
            reset=reset,
            lanes=bool(batch.lanes) or reset,
            tasks=bool(len(batch.submitted) or len(batch.started) or len(batch.ended)) or reset,
            intervals=bool(len(batch.intervals) or len(batch.spans)),
            resources=bool(len(batch.resources)),
            status=batch.status is not None,
            machine=bool(len(batch.machine)),
        )
        if notify:
            self.notify(change)
        return change

    def write_submitted(self, rows: np.ndarray) -> None:
        """Record SUBMIT_DTYPE rows: tasks become queued."""
        self.mark_submitted(rows["task_id"], rows["t_ns"])

    @property
    def submitted_ns(self) -> np.ndarray:
        """When each task was handed to the backend (-1: not yet)."""
        if self._submitted_ns is None:
            self._submitted_ns = np.full(len(self.state), self._submitted_all, dtype=np.int64)
        return self._submitted_ns

    @submitted_ns.setter
    def submitted_ns(self, column: np.ndarray) -> None:
        self._submitted_ns = column

    def submitted_part(self, part: slice | np.ndarray) -> np.ndarray:
        """``submitted_ns[part]`` (a slice of task ids, or ids), without making the whole column
        while it is one number."""
        if self._submitted_ns is None:
            count = len(range(*part.indices(len(self.state)))) if isinstance(part, slice) else len(part)
            return np.full(count, self._submitted_all, dtype=np.int64)
        return self._submitted_ns[part]

    def submitted_at(self, task_id: int) -> int:
        """``submitted_ns[task_id]``, without making the whole column while it is one number (a
        tooltip or a table cell asks for one task: 8 MB made at a million tasks otherwise)."""
        if self._submitted_ns is None:
            return self._submitted_all
        return int(self._submitted_ns[task_id])

    def mark_submitted(self, ids: np.ndarray, t_ns: np.ndarray | int) -> None:
        """Tasks ``ids`` handed to the backend at ``t_ns``: pending ones become queued."""
        every = _every_task_once(ids, len(self.state))
        self.touch_tasks(None if every else ids)
        if every and self._submitted_ns is None and self._submitted_all < 0 and np.ndim(t_ns) == 0:
            self._submitted_all = int(t_ns)  # every task at once: still one number
        else:
            self.submitted_ns[ids] = t_ns
        # pending -> queued, later states stay (no copy of the ids: a million at once at submission)
        self.state[ids] = np.maximum(self.state[ids], int(TaskState.QUEUED))

    def write_started(self, rows: np.ndarray) -> None:
        """Record START_DTYPE rows: tasks run on a lane from t_ns."""
        self.write_starts(rows["task_id"], rows["lane"], rows["t_ns"])

    def write_starts(self, ids: np.ndarray, lanes: np.ndarray, t_ns: np.ndarray) -> None:
        """Tasks ``ids`` run on ``lanes`` from ``t_ns`` (columns of START rows)."""
        self.touch_tasks(ids)
        self.start_ns[ids] = t_ns
        self.lane[ids] = lanes
        self.state[ids] = np.maximum(self.state[ids], int(TaskState.RUNNING))  # pending/queued -> running

    def write_ended(self, rows: np.ndarray) -> None:
        """Record END_DTYPE rows: a terminal state with its times (lane/start only where given)."""
        self.write_ends(rows["task_id"], rows["state"], rows["end_ns"], rows["cpu_ns"], rows["ready_ns"],
                        rows["lane"], rows["start_ns"])

    def write_ends(self, ids: np.ndarray, states: np.ndarray, end_ns: np.ndarray, cpu_ns: np.ndarray,
                   ready_ns: np.ndarray, lanes: np.ndarray | None = None, start_ns: np.ndarray | None = None) -> None:
        """Tasks ``ids`` end (columns of END rows); ``lanes``/``start_ns`` only where given (>= 0)."""
        self.touch_tasks(ids)
        self.state[ids] = states
        self.end_ns[ids] = end_ns
        self.cpu_ns[ids] = cpu_ns
        self.ready_ns[ids] = ready_ns
        # Workers' ends give the lane (and the start, when it travelled with them); engine ends
        # give the start where the task had one.
        for column, values in ((self.lane, lanes), (self.start_ns, start_ns)):
            if values is None:
                continue
            given = values >= 0
            if given.all():
                column[ids] = values
            elif given.any():
                column[ids[given]] = values[given]

    # ---- derived views --------------------------------------------------------------------------

    @property
    def n_tasks(self) -> int:
        """How many tasks the run has."""
        return len(self.state)

    @property
    def t0_ns(self) -> int:
        """The run's time origin (display times are seconds from here)."""
        return self.run.t0_ns if self.run else 0

    def state_counts(self) -> dict[TaskState, int]:
        """How many tasks are in each state."""
        counts = np.zeros(len(TaskState), np.int64)
        step = 1 << 16  # np.bincount makes an 8-byte copy of what it counts: a step at a time
        for lo in range(0, len(self.state), step):
            counts += np.bincount(self.state[lo:lo + step], minlength=len(TaskState))[: len(TaskState)]
        return {s: int(counts[s]) for s in TaskState}

    def finished_count(self) -> int:
        """Tasks in a terminal state."""
        # (an int, not the enum: numpy compares an IntEnum through int64, 7x slower)
        return int(np.count_nonzero(self.state >= int(TaskState.DONE)))

    def ran_count(self) -> int:
        """Tasks that ran to an end (``TaskState.ran``): the ones a run's rate counts."""
        return self.finished_count() - int(np.count_nonzero(self.state == int(TaskState.CANCELLED)))

    def wall_ns(self) -> np.ndarray:
        """Wall time of each task (end - start), -1 where it has no both ends."""
        ok = (self.start_ns >= 0) & (self.end_ns >= 0)
        return np.where(ok, self.end_ns - self.start_ns, -1)

    def queued_ns(self) -> np.ndarray:
        """Time each task waited between submission and start, -1 where unknown."""
        ok = (self.submitted_ns >= 0) & (self.start_ns >= 0)
        return np.where(ok, np.maximum(self.start_ns - self.submitted_ns, 0), -1)

    def waiting_ns(self) -> np.ndarray:
        """Blocked time per task, -1 where unknown (:func:`blocked_ns`)."""
        return blocked_ns(self.wall_ns(), self.cpu_ns, self.ready_ns, self.measures_ready)

    @property
    def measures_ready(self) -> bool:
        """Whether this run's host measured run-queue wait (schedstat): where it did, a task whose
        ready time is unmeasured has its time off CPU unsplit (see :func:`blocked_ns`)."""
        return bool(self.run.schedstat) if self.run is not None else False

    def turnaround_ns(self) -> np.ndarray:
        """Submission to end of each task (turnaround), -1 where unknown."""
        ok = (self.submitted_ns >= 0) & (self.end_ns >= 0)
        return np.where(ok, np.maximum(self.end_ns - self.submitted_ns, 0), -1)

    def scheduling_wait_ns(self) -> np.ndarray:
        """Time each task was ready to run but not running: queued for a worker + run-queue wait
        for a CPU (ready, 0 where unmeasured or not yet known); -1 where it has not started."""
        queued = self.queued_ns()
        return np.where(queued >= 0, queued + np.maximum(self.ready_ns, 0), -1)

    def end_or_now_ns(self) -> np.ndarray:
        """End of each started task, with running tasks extended to the live edge."""
        running = (self.start_ns >= 0) & (self.end_ns < 0)
        return np.where(running, max(self.now_ns, 0), self.end_ns)

    def task_slice(self, rows: slice) -> Timeline:
        """Tasks ``rows`` only, as views of this timeline's columns (no copy), with its run and live
        edge: for the per-task derived values (wall_ns, waiting_ns, ...) over part of a large run.
        Lanes, texts and tables are not carried: ask this timeline for those."""
        part = Timeline.__new__(Timeline)
        part._listeners = []
        part.run, part.now_ns = self.run, self.now_ns
        for name in self.TASK_COLUMNS:
            column = self.submitted_part(rows) if name == "submitted_ns" else getattr(self, name)[rows]
            setattr(part, name, column)
        return part

    def arg_text(self, task_id: int) -> str:
        """The task's arguments as shown to a person."""
        if self.run is None:
            return ""
        if self.run.arg_texts and task_id < len(self.run.arg_texts):
            return self.run.arg_texts[task_id]
        cost = self.cost_ms[task_id] if task_id < len(self.cost_ms) else np.nan
        kind = (self.run.config.get("workload") or {}).get("kind", "")
        return f"{kind} {cost:.1f} ms" if np.isfinite(cost) else ""

    def span_label(self, index: int) -> str:
        """The text of a wait-span label index."""
        return self.span_labels[index] if 0 <= index < len(self.span_labels) else "?"

    def load_columns(
        self,
        run: RunInfo,
        lanes: list[LaneInfo],
        tasks: dict[str, np.ndarray],
        texts: dict[int, TaskText],
        intervals: np.ndarray,
        resources: np.ndarray,
        spans: np.ndarray,
        span_labels: list[str],
        status: RunStatus | None,
        now_ns: int,
        machine: np.ndarray | None = None,
        adopt: bool = False,
    ) -> None:
        """Replace everything at once (used by file readers), then notify a reset.

        ``adopt``: the task columns are the caller's to give away (a reader's fresh arrays); each
        one of the right type, length and layout becomes the column itself, not a copy (a 1M-task
        file's read spent 20-50 ms of CPU copying them).
        """
        self.begin(run)
        self.lanes = list(lanes)
        for name, column in tasks.items():
            current = getattr(self, name)
            if adopt and _adoptable(column, current):
                setattr(self, name, column)
                continue
            fresh = np.empty_like(current)  # (begin may have shared a read-only run column)
            fresh[:] = column
            setattr(self, name, fresh)
        self.texts = dict(texts)
        self.intervals.append(intervals)
        self.resources.append(resources)
        self.spans.append(spans)
        if machine is not None:
            self.machine.append(machine)
        self.span_labels = list(span_labels)
        self.status = status
        self.now_ns = now_ns
        self.notify(TimelineChange(reset=True, lanes=True, tasks=True, intervals=True, resources=True,
                                   status=True, machine=True))

    TASK_COLUMNS = ("submitted_ns", "start_ns", "end_ns", "cpu_ns", "ready_ns", "lane", "state", "chunk",
                    "cost_ms")


def blocked_ns(wall: Any, cpu: Any, ready: Any, measures_ready: bool) -> Any:
    """Blocked (waiting) time: wall - on-CPU - ready, -1 where unknown: no wall or on-CPU time, or
    time off CPU that is not split, ready unmeasured on a host that measures it (a task shorter
    than the workers' FINE_NS: off CPU it may have been in the run queue or blocked; it is neither
    guessed). A task on CPU throughout has 0 of both. Where the host measures no ready time at
    all (no schedstat), ready counts as 0 and waiting is all the time off CPU. Arrays or scalars."""
    off = wall - np.maximum(cpu, 0) - np.maximum(ready, 0)
    known = (wall >= 0) & (cpu >= 0)
    if measures_ready:
        known = known & ((ready >= 0) | (off <= 0))
    return np.where(known, np.maximum(off, 0), -1)
