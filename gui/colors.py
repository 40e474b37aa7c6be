"""The one palette for worker states and task states: chart, legend, table and exports share it.

Colours are mid-luminance (WCAG contrast at least 2:1 against the light and the dark theme's
chart background), and every two of them differ by at least 20 CIE76 units (tests/test_colors.py
checks both), so no two states share a look: the task that is running (teal) is not the worker
that is running (green), and cancelled (taupe), waiting (pale blue-grey) and terminated (slate)
are three different colours, not three greys. States that must be told apart at a glance differ
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
    WorkerState.TERMINATED: "#5A6470",  # dark slate: exited
}

TASK_STATE_COLORS: dict[TaskState, str] = {
    TaskState.PENDING: "#7FA07F",  # sage: not yet submitted (table only)
    TaskState.QUEUED: "#BF9B5A",  # tan: submitted, waiting for a worker
    TaskState.RUNNING: "#1BA3A3",  # teal: in progress (not the worker strip's green)
    TaskState.DONE: "#2F6DB5",  # blue
    TaskState.FAILED: "#D7263D",  # red, drawn with a dark outline in the chart
    TaskState.TIMEOUT: "#F07F13",  # orange
    TaskState.CANCELLED: "#9A7B6A",  # taupe: never ran to its end
}

# The second shade of DONE, used for every other Pool chunk on a lane so chunks read as groups.
DONE_ALT_COLOR = "#6FA3DE"
# The outline that makes failed bars stand out even when they are only a few pixels wide.
FAILED_OUTLINE_COLOR = "#7A0010"
# Wait spans in instrumented primitives (lock.acquire, queue.get, ...).
SPAN_COLOR = "#C0398F"

WORKER_STATE_LABELS: dict[WorkerState, str] = {s: s.name.lower() for s in WorkerState}
TASK_STATE_LABELS: dict[TaskState, str] = {s: s.name.lower() for s in TaskState}
TASK_STATE_LABELS[TaskState.RUNNING] = "in progress"  # "running" names the worker state

# What each colour is called in words (legend tooltips, README): a colour is never named twice.
COLOR_NAMES: dict[str, str] = {
    WORKER_STATE_COLORS[WorkerState.NEW]: "violet",
    WORKER_STATE_COLORS[WorkerState.READY]: "amber",
    WORKER_STATE_COLORS[WorkerState.RUNNING]: "green",
    WORKER_STATE_COLORS[WorkerState.WAITING]: "pale blue-grey",
    WORKER_STATE_COLORS[WorkerState.TERMINATED]: "dark slate",
    TASK_STATE_COLORS[TaskState.PENDING]: "sage",
    TASK_STATE_COLORS[TaskState.QUEUED]: "tan",
    TASK_STATE_COLORS[TaskState.RUNNING]: "teal",
    TASK_STATE_COLORS[TaskState.DONE]: "blue",
    TASK_STATE_COLORS[TaskState.FAILED]: "red",
    TASK_STATE_COLORS[TaskState.TIMEOUT]: "orange",
    TASK_STATE_COLORS[TaskState.CANCELLED]: "taupe",
    DONE_ALT_COLOR: "light blue",
    SPAN_COLOR: "magenta",
}


def state_color(state: WorkerState | TaskState) -> QColor:
    """The QColor of a worker state or a task state (dispatching on the enum type, not its value)."""
    if isinstance(state, WorkerState):
        return QColor(WORKER_STATE_COLORS[state])
    if isinstance(state, TaskState):
        return QColor(TASK_STATE_COLORS[state])
    raise TypeError(f"state_color expects a WorkerState or TaskState, got {type(state).__name__}")
