"""The task table's model: a QAbstractTableModel straight over the Timeline's numpy columns.

No Python object per row: a row is a task id, cells are read from the columns when Qt asks for
a visible cell. Sorting is one ``argsort`` of a column, filtering one boolean mask over the
state column, and the shown order is an index array (or nothing at all when unsorted and
unfiltered, the common case during a live run). So a million tasks cost a few megabytes here
and a refresh is a few vectorised passes, spaced during a live run by ten times their own cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPixmap

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline, TimelineChange, blocked_ns
from procviz.engine.written_blocks import written_since
from procviz.gui.colors import TASK_STATE_LABELS
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.task_query import TaskQuery
from procviz.gui.panels.units import milliseconds

MIN_REFRESH_MS = 100
COST_FACTOR = 10  # re-sort/re-filter after ten times what the last one cost
Index = QModelIndex | QPersistentModelIndex


class Column:
    """One table column: a header, a cell text for a task, and a sort key over all tasks."""

    def __init__(self, title: str, text: Callable[[Timeline, int], str],
                 key: Callable[[Timeline], np.ndarray], numeric: bool = True, tip: str = "") -> None:
        self.title = title
        self.text = text
        self.key = key
        self.numeric = numeric
        self.tip = tip


def _lane_text(tl: Timeline, task: int) -> str:
    lane = int(tl.lane[task])
    if lane < 0 or lane >= len(tl.lanes):
        return ""
    info = tl.lanes[lane]
    ident = f"tid {info.tid}" if info.kind == "thread" else str(info.pid)  # threads share their pid
    return f"{info.name} ({ident})" if info.name else ident


def _start_text(tl: Timeline, task: int) -> str:
    start = int(tl.start_ns[task])
    return "" if start < 0 else f"{(start - tl.t0_ns) / 1e9:.3f}"


def _outcome_text(tl: Timeline, task: int) -> str:
    text = tl.texts.get(task)
    if text is None:
        return ""
    if text.kind == "error":
        return f"{text.type_name}: {text.message}" if text.type_name else text.message
    return text.message


def _state_name(tl: Timeline, task: int) -> str:
    return TASK_STATE_LABELS[TaskState(int(tl.state[task]))]  # the legend's words


def _rel_start(tl: Timeline) -> np.ndarray:
    return np.where(tl.start_ns >= 0, tl.start_ns - tl.t0_ns, np.iinfo(np.int64).max)


COLUMNS: tuple[Column, ...] = (
    Column("Task", lambda tl, t: str(t), lambda tl: np.arange(tl.n_tasks)),
    Column("State", _state_name, lambda tl: tl.state, numeric=False),
    Column("Worker", _lane_text, lambda tl: tl.lane, numeric=False),
    Column("Chunk", lambda tl, t: str(int(tl.chunk[t])), lambda tl: tl.chunk),
    Column("Args", lambda tl, t: tl.arg_text(t), lambda tl: np.arange(tl.n_tasks), numeric=False),
    Column("Start (s)", _start_text, _rel_start, tip="Seconds from the run's start"),
    Column("Wall (ms)", lambda tl, t: milliseconds(_wall(tl, t)),
           lambda tl: tl.wall_ns()),
    Column("Queued (ms)", lambda tl, t: milliseconds(_queued(tl, t)), lambda tl: tl.queued_ns(),
           tip="Submission to start"),
    Column("On-CPU (ms)", lambda tl, t: milliseconds(int(tl.cpu_ns[t])), lambda tl: tl.cpu_ns),
    Column("Ready (ms)", lambda tl, t: milliseconds(int(tl.ready_ns[t])), lambda tl: tl.ready_ns,
           tip="Runnable, waiting for a CPU (blank where not measurable)"),
    Column("Waiting (ms)", lambda tl, t: milliseconds(_waiting(tl, t)), lambda tl: tl.waiting_ns(),
           tip="Blocked: wall − on-CPU − ready (empty where ready was not measured and the task was off CPU)"),
    Column("Wait time (ms)", lambda tl, t: milliseconds(_wait_time(tl, t)), lambda tl: wait_time_ns(tl),
           tip="As scheduling courses count it: queued + ready (time the task could have run but did not)"),
    Column("Turnaround (ms)", lambda tl, t: milliseconds(_turnaround(tl, t)), lambda tl: turnaround_ns(tl),
           tip="Submission to end: queued + wall"),
    Column("Result / error", _outcome_text, lambda tl: np.arange(tl.n_tasks), numeric=False),
)


def _wall(tl: Timeline, t: int) -> int:
    s, e = int(tl.start_ns[t]), int(tl.end_ns[t])
    return e - s if s >= 0 and e >= 0 else -1


def _queued(tl: Timeline, t: int) -> int:
    sub, s = tl.submitted_at(t), int(tl.start_ns[t])
    return max(s - sub, 0) if sub >= 0 and s >= 0 else -1


def _waiting(tl: Timeline, t: int) -> int:
    return int(blocked_ns(_wall(tl, t), int(tl.cpu_ns[t]), int(tl.ready_ns[t]), tl.measures_ready))


def wait_time_ns(tl: Timeline) -> np.ndarray:
    """Per task, queued + ready (ready counted as 0 where not measured); -1 where it has not started."""
    return tl.scheduling_wait_ns()  # defined once, in the Timeline (the run metrics average it)


def turnaround_ns(tl: Timeline) -> np.ndarray:
    """Per task, submission to end; -1 until it has ended (or if it was never submitted)."""
    return tl.turnaround_ns()


def _wait_time(tl: Timeline, t: int) -> int:
    queued = _queued(tl, t)
    return queued + max(int(tl.ready_ns[t]), 0) if queued >= 0 else -1


def _turnaround(tl: Timeline, t: int) -> int:
    sub, end = tl.submitted_at(t), int(tl.end_ns[t])
    return max(end - sub, 0) if sub >= 0 and end >= 0 else -1


def state_icon_factory(color_of: Callable[[int], QColor]) -> Callable[[int], QIcon]:
    """Cached little coloured squares, one per task state, for the State column."""
    cache: dict[int, QIcon] = {}

    def icon(state: int) -> QIcon:
        if state not in cache:
            pix = QPixmap(10, 10)
            pix.fill(color_of(state))
            cache[state] = QIcon(pix)
        return cache[state]

    return icon


# The roles a cell of the table has (see TaskTableModel.data).
SERVED_ROLES = frozenset(int(role) for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                                                Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ToolTipRole))
ALIGN_NUMBERS = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class TaskTableModel(QAbstractTableModel):
    """Rows are tasks of ``timeline``, optionally filtered by state and sorted by a column."""

    rowsShownChanged = Signal(int, int)  # shown, total
    matchesChanged = Signal(object)  # np.ndarray of the task ids the search matches (empty: no search)

    def __init__(self, timeline: Timeline, state_color: Callable[[int], QColor],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self._icon = state_icon_factory(state_color)
        self._rows: np.ndarray | None = None  # shown task ids; None = all, in id order
        self._n = timeline.n_tasks
        self._states: frozenset[int] | None = None  # None = every state
        self._query: TaskQuery | None = None  # the search box's query (None = no search)
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(MIN_REFRESH_MS)
        self._timer.timeout.connect(self._update)
        # False: the window refreshes this model together with the other panels (LiveNumbers).
        self.auto_refresh = True
        # The rows a view shows, [first, last) (set by the view's panel): a refresh repaints only
        # those whose tasks changed. None: every row counts as shown.
        self.shown_rows: Callable[[], tuple[int, int]] | None = None
        self._stamps: tuple[np.ndarray, np.ndarray, list, int] | None = None  # see _changed_rows
        self._unsubscribe = subscribe_while_alive(self, timeline, self._on_change)

    # ---- Qt model interface ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        """Shown rows."""
        if parent.isValid():
            return 0
        return self._n if self._rows is None else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, alignment and the state colour, computed for visible cells only."""
        # Qt's delegate asks every cell it paints for seven roles, four of which no cell has: those
        # (and a cell's roles that do not depend on its task) are answered before the task is looked up.
        if role not in SERVED_ROLES or not index.isValid():
            return None
        col = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return ALIGN_NUMBERS if COLUMNS[col].numeric else None
        if (role == Qt.ItemDataRole.DecorationRole and col != 1) or (
                role == Qt.ItemDataRole.ToolTipRole and col != len(COLUMNS) - 1):
            return None
        task = self.task_at(index.row())
        if task < 0:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[col].text(self.timeline, task)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(int(self.timeline.state[task]))
        text = self.timeline.texts.get(task)  # (the tooltip of the last column)
        return text.traceback or text.message if text is not None else None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles and their explanations."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tip or None
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the shown rows by ``column`` (one stable argsort)."""
        self._sort = (column, order) if 0 <= column < len(COLUMNS) else None
        self.refresh()

    # ---- our interface --------------------------------------------------------------------------

    def task_at(self, row: int) -> int:
        """The task id shown in ``row`` (-1 when out of range)."""
        if self._rows is None:
            return row if 0 <= row < self._n else -1
        return int(self._rows[row]) if 0 <= row < len(self._rows) else -1

    def row_of(self, task: int) -> int:
        """The row showing ``task``, or -1 when it is filtered out."""
        if self._rows is None:
            return task if 0 <= task < self._n else -1
        hits = np.flatnonzero(self._rows == task)
        return int(hits[0]) if len(hits) else -1

    def set_state_filter(self, states: frozenset[int] | None) -> None:
        """Show only tasks in ``states`` (None: all)."""
        self._states = states
        self.refresh()

    def set_query(self, query: TaskQuery | None) -> None:
        """Show only tasks the search ``query`` matches (None or an empty query: all)."""
        self._query = None if query is None or query.empty else query
        self.refresh()

    def matches(self) -> np.ndarray:
        """Task ids the search matches now (empty when there is no search)."""
        if self._query is None:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self._query.mask(self.timeline))

    @property
    def state_filter(self) -> frozenset[int] | None:
        """The states shown (None: all)."""
        return self._states

    def _on_change(self, change: TimelineChange) -> None:
        if (change.reset or self.timeline.n_tasks != self._n) and not self.auto_refresh:
            self._timer.stop()
            self._await_rows()
        elif change.reset or self.timeline.n_tasks != self._n:
            self._timer.stop()
            self.refresh(reset=True)
        elif not self.auto_refresh:
            return
        elif change.status:
            self._timer.stop()
            self._update()
        elif (change.tasks or change.lanes) and not self._timer.isActive():
            # Live changes are folded in at most every MIN_REFRESH_MS: a table read by a person
            # gains nothing from 30 repaints a second.
            self._timer.start()

    def _await_rows(self) -> None:
        """Another run or file, whose rows the window chooses with the other panels' numbers
        (gui/live_numbers.py): until then a filtered or sorted table shows no row, and so does
        a run none of whose tasks has started yet (a run's start: its rows appear once, with its
        first numbers; a screenful of cells costs 3-6 ms of the GUI thread to paint, and they were
        painted three times before the first task started: the pending rows, again as the scroll
        bar came, then the numbers'). A file's rows show at once, unless none of its tasks started
        (then with its numbers, computed as it opens)."""
        filtered = self._states is not None or self._query is not None
        sorted_ = self._sort is not None and self._sort != (0, Qt.SortOrder.AscendingOrder)
        starting = self.timeline.run is not None and not np.any(self.timeline.start_ns >= 0)
        self.beginResetModel()
        self._n = self.timeline.n_tasks
        self._rows = np.zeros(0, np.int64) if filtered or sorted_ or starting else None
        self._stamps = None  # (the reset repaints every row)
        self.endResetModel()
        self.rowsShownChanged.emit(self.rowCount(), self._n)

    def refresh_now(self, source: Timeline | None = None) -> None:
        """Fold in what changed since the last refresh (cells, and rows when filtered or sorted);
        rows are chosen from ``source`` when given (a frozen copy of the Timeline: the moment the
        other panels show, gui/live_numbers.py), cells always show the Timeline as it is."""
        self._timer.stop()
        self._update(source)

    def _update(self, source: Timeline | None = None) -> None:
        if self._rows is None:
            # Unsorted, unfiltered: rows do not move; the view repaints the shown rows whose tasks
            # changed since the last refresh (a repaint of a screenful of cells costs 3-6 ms; the
            # first rows of a long run stop changing early on).
            lo, hi = self._changed_rows()
            if self.shown_rows is not None:
                first, last = self.shown_rows()
                lo, hi = max(lo, first), min(hi, last)
            if hi > lo:
                self.dataChanged.emit(self.index(lo, 0), self.index(hi - 1, len(COLUMNS) - 1))
        else:
            self.refresh(source=source)

    def _changed_rows(self) -> tuple[int, int]:
        """Rows [lo, hi) holding every task whose cells may have changed since the last call (in
        id order: unsorted, unfiltered), from the blocks of task ids the Timeline wrote since
        (:attr:`Timeline.block_stamp`); every row when its lanes or texts changed, or another
        run or file came (a lane's times alone change no cell)."""
        tl = self.timeline
        workers = [(info.name, info.pid, info.tid, info.kind) for info in tl.lanes]  # (what the Worker column shows)
        seen, self._stamps = self._stamps, (tl.block_stamp, tl.block_stamp.copy(), workers, len(tl.texts))
        if seen is None or seen[0] is not tl.block_stamp or seen[2] != workers or seen[3] != len(tl.texts):
            return 0, self._n
        written = written_since(seen[1], tl)
        return (written[0][0], min(written[-1][1], self._n)) if written else (0, 0)

    def _compute_rows(self, source: Timeline | None = None) -> np.ndarray | None:
        tl = source if source is not None else self.timeline
        rows: np.ndarray | None = None
        keep: np.ndarray | None = None
        if self._states is not None:
            keep = np.isin(tl.state, np.fromiter(self._states, dtype=np.uint8))
        if self._query is not None:
            found = self._query.mask(tl)
            keep = found if keep is None else keep & found
        if keep is not None:
            rows = np.flatnonzero(keep)
        if self._sort is not None:
            column, order = self._sort
            if not (column == 0 and order == Qt.SortOrder.AscendingOrder):
                keys = np.asarray(COLUMNS[column].key(tl))
                if rows is not None:
                    keys = keys[rows]
                perm = np.argsort(keys, kind="stable")
                if order == Qt.SortOrder.DescendingOrder:
                    perm = perm[::-1]
                rows = perm if rows is None else rows[perm]
        return rows

    def refresh(self, reset: bool = False, source: Timeline | None = None) -> None:
        """Recompute the shown rows from the Timeline, or from ``source`` (a frozen copy of it)
        (filter, then sort), keeping the selection."""
        started = time.perf_counter()
        rows = self._compute_rows(source)
        cost_ms = 1000 * (time.perf_counter() - started)
        self._timer.setInterval(max(MIN_REFRESH_MS, int(COST_FACTOR * cost_ms)))
        n = self.timeline.n_tasks
        if reset:
            self.beginResetModel()
            self._rows, self._n = rows, n
            self._stamps = None
            self.endResetModel()
        else:
            self.layoutAboutToBeChanged.emit()
            old = [(p, self.task_at(p.row())) for p in self.persistentIndexList()]
            self._rows, self._n = rows, n
            inverse = None
            if rows is not None and old:
                inverse = np.full(n, -1, dtype=np.int64)
                inverse[rows] = np.arange(len(rows))
            for p, task in old:
                row = -1 if task < 0 else (task if rows is None else int(inverse[task]))  # type: ignore[index]
                self.changePersistentIndex(p, self.index(row, p.column()) if row >= 0 else QModelIndex())
            self.layoutChanged.emit()
        self.rowsShownChanged.emit(self.rowCount(), n)
        self.matchesChanged.emit(self.matches())
