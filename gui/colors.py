"""The one palette for worker states and task states: chart, legend, table and exports share it.

Colours are mid-luminance so they read on white and on near-black backgrounds alike, and the
states that must be told apart at a glance (failed, timeout, cancelled; ready vs running) differ
in hue *and* lightness, which keeps them apart for most colour-vision deficiencies too.

``WorkerState`` and ``TaskState`` are both IntEnums with overlapping values (RUNNING == 2 in
both), so a single dict keyed by either would silently mix them up; :func:`state_color` dispatches
on the enum type for that reason.
"""

from __future__ import annotations

from PySide6.QtGui import QColor

from procviz.engine.events import TaskState, WorkerState

WORKER_STATE_COLORS: dict[WorkerState, str] = {
    WorkerState.NEW: "#A873D9",  # violet: start-up (spawn, imports)
    WorkerState.READY: "#D4A200",  # amber: runnable but no CPU free
    WorkerState.RUNNING: "#2CA05A",  # green: on a CPU
    WorkerState.WAITING: "#A3ADB8",  # pale blue-grey: blocked (sleep, I/O, lock, idle)
    WorkerState.TERMINATED: "#6B6B6B",  # slate: exited
}

TASK_STATE_COLORS: dict[TaskState, str] = {
    TaskState.PENDING: "#B5B5B5",  # light grey: not yet submitted
    TaskState.QUEUED: "#BF9B5A",  # tan: submitted, waiting for a worker
    TaskState.RUNNING: "#3DBE6E",  # a lighter green than the worker's running strip
    TaskState.DONE: "#2F6DB5",  # blue
    TaskState.FAILED: "#D7263D",  # red, drawn with a dark outline in the chart
    TaskState.TIMEOUT: "#F07F13",  # orange
    TaskState.CANCELLED: "#8E8E8E",  # grey
}

# The second shade of DONE, used for every other Pool chunk on a lane so chunks read as groups.
DONE_ALT_COLOR = "#6FA3DE"
# The outline that makes failed bars stand out even when they are only a few pixels wide.
FAILED_OUTLINE_COLOR = "#7A0010"
# Wait spans in instrumented primitives (lock.acquire, queue.get, ...).
SPAN_COLOR = "#C0398F"

WORKER_STATE_LABELS: dict[WorkerState, str] = {s: s.name.lower() for s in WorkerState}
TASK_STATE_LABELS: dict[TaskState, str] = {s: s.name.lower() for s in TaskState}


def state_color(state: WorkerState | TaskState) -> QColor:
    """The QColor of a worker state or a task state (dispatching on the enum type, not its value)."""
    if isinstance(state, WorkerState):
        return QColor(WORKER_STATE_COLORS[state])
    if isinstance(state, TaskState):
        return QColor(TASK_STATE_COLORS[state])
    raise TypeError(f"state_color expects a WorkerState or TaskState, got {type(state).__name__}")
