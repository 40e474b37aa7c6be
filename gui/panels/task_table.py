"""The task table panel: a state filter, the count shown, and the table view over TaskTableModel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline
from procviz.gui.colors import TASK_STATE_LABELS
from procviz.gui.panels.task_model import TaskTableModel
from procviz.gui.panels.task_query import QueryError, parse_query
from procviz.gui.panels.units import count

STATE_FILTERS: tuple[tuple[str, frozenset[int] | None], ...] = (
    ("All tasks", None),
    ("Problems (failed, timed out, cancelled)",
     frozenset({TaskState.FAILED, TaskState.TIMEOUT, TaskState.CANCELLED})),
    *((TASK_STATE_LABELS[s], frozenset({int(s)})) for s in TaskState),
)


class TaskTablePanel(QWidget):
    """Every task in a sortable, filterable table; ``taskSelected(id)`` when the user picks one."""

    taskSelected = Signal(int)
    matchesChanged = Signal(object)  # task ids the search matches (np.ndarray; empty = no search)

    def __init__(self, timeline: Timeline, state_color: Callable[[int], QColor],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TaskTableModel(timeline, state_color, self)
        self.filter = QComboBox()
        for label, states in STATE_FILTERS:
            self.filter.addItem(label, states)
        self.filter.setToolTip("Show only tasks in this state")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find: 12, 10-19, failed, worker 2, pid 4711")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Tasks by id or range, state, and worker/thread/pid/lane N; words of one kind "
                               "are alternatives, kinds combine (\"failed worker 2\"). Matches are outlined "
                               "in the chart.")
        self.shown = QLabel()
        self.view = QTableView()
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # (worker names differ at their ends)
        self.view.setModel(self.model)
        self.model.shown_rows = self._shown_rows
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        # Fixed row heights: the view never asks a million rows for their size.
        vheader = self.view.verticalHeader()
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        vheader.hide()
        hheader = self.view.horizontalHeader()
        hheader.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hheader.setStretchLastSection(True)
        header_metrics = hheader.fontMetrics()
        for column, width in enumerate((60, 90, 150, 60, 140, 70, 70, 80, 80, 70, 80, 90, 100)):
            # Never narrower than the column title (header fonts differ between styles).
            title = str(self.model.headerData(column, Qt.Orientation.Horizontal))
            self.view.setColumnWidth(column, max(width, header_metrics.horizontalAdvance(title) + 28))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.filter)
        top.addWidget(self.search, 1)
        top.addWidget(self.shown)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self.filter.currentIndexChanged.connect(self._on_filter)
        self.search.textChanged.connect(self._on_search)
        self.model.matchesChanged.connect(self.matchesChanged)
        self.model.rowsShownChanged.connect(self._on_shown)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        self._on_shown(self.model.rowCount(), timeline.n_tasks)

    def _shown_rows(self) -> tuple[int, int]:
        """The rows the view shows now, [first, last) (none while it is hidden)."""
        if not self.view.isVisible():
            return 0, 0
        first = self.view.rowAt(0)
        last = self.view.rowAt(self.view.viewport().height() - 1)
        return max(first, 0), (last if last >= 0 else self.model.rowCount() - 1) + 1

    def _on_filter(self) -> None:
        self.model.set_state_filter(self.filter.currentData())

    def _on_search(self, text: str) -> None:
        try:
            query = parse_query(text)
        except QueryError as exc:
            self.search.setStyleSheet("QLineEdit { border: 1px solid #D7263D; }")
            self.search.setToolTip(str(exc))
            return
        self.search.setStyleSheet("")
        self.model.set_query(query)

    def _on_shown(self, shown: int, total: int) -> None:
        text = f"{count(shown)} of {count(total)} tasks" if shown != total else f"{count(total)} tasks"
        self.shown.setText(text)

    def _on_current(self, current: object, _previous: object) -> None:
        task = self.model.task_at(self.view.currentIndex().row())
        if task >= 0:
            self.taskSelected.emit(task)

    def select_task(self, task: int) -> None:
        """Select and scroll to ``task``; shows all tasks first if the filter hides it."""
        row = self.model.row_of(task)
        if row < 0 and self.filter.currentIndex() != 0:
            self.filter.setCurrentIndex(0)
            row = self.model.row_of(task)
        if row < 0:
            return
        index = self.model.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def selected_task(self) -> int:
        """The selected task id, or -1."""
        rows = self.view.selectionModel().selectedRows()
        return self.model.task_at(rows[0].row()) if rows else -1
