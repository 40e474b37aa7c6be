"""The run metrics panel: makespan, utilization, speedup, averages, other load, where task time went.

Each figure's definition (:data:`procviz.engine.metrics.DEFINITIONS`) is its tooltip. The speedup
is measured against the last finished serial run of the same workload this panel showed, else
estimated (and says which). Under the figures, the machine lane: the run's CPUs' busy share over
time, the run's own processes and other programs told apart.

Figures come from :func:`procviz.engine.metrics.compute_metrics` over the shown Timeline, the same
function the engine's RunResult and the CLI summary use, so the three always agree. In the window
they are computed off the GUI thread (:mod:`procviz.gui.live_numbers`) and handed to :meth:`MetricsPanel.show_metrics`;
standalone, the panel recomputes them itself after a pause ten times as long as the last
computation took (at least 100 ms), and at once when the run ends or a file is opened.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from procviz.engine.metrics import (
    DEFINITIONS,
    NONE_ENDED,
    Metrics,
    SerialBaseline,
    compute_metrics,
    serial_baseline_of,
)
from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.panels.label_slot import LabelSlot
from procviz.gui.panels.machine_lane import MachineLane
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.units import count, percent, seconds

MIN_REFRESH_MS = 100
COST_FACTOR = 10  # wait ten times what a refresh costs: at most ~10% of the GUI thread on metrics
READY_UNMEASURED = "not measurable here (no schedstat on this host)"


def summary_texts(metrics: Metrics) -> dict[str, str]:
    """The panel's summary lines, keyed by what they show (tests compare these too)."""
    m = metrics
    # Makespan and occupancy run to the last task's end: before one ends (long tasks of a live run)
    # they are not 0 s and 0 %, they are not there yet.
    none_ended = not m.finished and m.makespan_ns <= 0
    return {
        "tasks": f"{count(m.tasks)}: {count(m.done)} done, {count(m.failed)} failed, "
                 f"{count(m.timeout)} timed out, {count(m.cancelled)} cancelled",
        "makespan": NONE_ENDED if none_ended else
                    f"{seconds(m.makespan_ns)} = start-up {seconds(m.startup_ns)} + work {seconds(m.work_ns)}",
        "utilization": NONE_ENDED if none_ended else
                       f"{percent(m.utilization)} of {m.slots} worker slot{'s' if m.slots != 1 else ''} occupied",
        "cpu_share": m.cpu_share_text(percent),
        "speedup": m.speedup_text(),
        "mean_wait": seconds(m.mean_wait_ns) if m.finished else NONE_ENDED,
        "mean_turnaround": seconds(m.mean_turnaround_ns) if m.finished else NONE_ENDED,
        "other_load": m.other_load_summary(percent),
        "queued": seconds(m.queued_ns),
        "cpu": seconds(m.cpu_ns) + m.cpu_unmeasured_text(),
        # (a task with no on-CPU time measured has no ready or waiting time either)
        "ready": seconds(m.ready_ns) + m.cpu_unmeasured_text() if m.ready_measured else READY_UNMEASURED,
        "waiting": seconds(m.waiting_ns) + m.cpu_unmeasured_text()
        + (f" (+ {seconds(m.unsplit_ns)} off CPU not split into ready and waiting: tasks under 0.2 ms)"
           if m.unsplit_ns else ""),
    }


_TASK_TIME = DEFINITIONS["task_time"]
SUMMARY_LABELS = {
    "tasks": ("Tasks", "Every task of the run and how it ended."),
    "makespan": ("Makespan", DEFINITIONS["makespan"] + " " + DEFINITIONS["startup"] + " " + DEFINITIONS["work"]),
    "utilization": ("Slot occupancy", DEFINITIONS["slots"]),
    "cpu_share": ("On-CPU share", DEFINITIONS["cpu_share"]),
    "speedup": ("Speedup", DEFINITIONS["speedup"]),
    "mean_wait": ("Mean waiting", DEFINITIONS["waiting"]),
    "mean_turnaround": ("Mean turnaround", DEFINITIONS["turnaround"]),
    "other_load": ("Other load", DEFINITIONS["other_load"]),
    "queued": ("Queued (total)", _TASK_TIME),
    "cpu": ("On-CPU (total)", _TASK_TIME),
    "ready": ("Ready (total)", _TASK_TIME),
    "waiting": ("Waiting (total)", _TASK_TIME),
}
LANE_COLUMNS = ("Worker", "PID", "Tasks", "Busy", "Utilization")


class MetricsPanel(QWidget):
    """Summary figures and a per-worker table for the shown Timeline."""

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.metrics: Metrics | None = None
        self.baseline: SerialBaseline | None = None  # the last finished serial run shown
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for key, (label, help_text) in SUMMARY_LABELS.items():
            value = QLabel("–")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setToolTip(help_text)
            slot = LabelSlot(value)  # (a new figure of the same lines repaints the label only)
            form.addRow(label, slot)
            form.labelForField(slot).setToolTip(help_text)
            self.values[key] = value
        self.lanes = QTableWidget(0, len(LANE_COLUMNS))
        self.lanes.setHorizontalHeaderLabels(LANE_COLUMNS)
        utilization = self.lanes.horizontalHeaderItem(LANE_COLUMNS.index("Utilization"))
        assert utilization is not None  # made by setHorizontalHeaderLabels
        utilization.setToolTip(DEFINITIONS["lane_utilization"])
        self.lanes.verticalHeader().hide()
        # Names cut in the middle: cut at the end, "guest 1 · task 1" and "guest 2 · task 2" both read "guest …".
        self.lanes.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.lanes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lanes.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.lanes.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # names give way to the figures
        self.lanes.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        # Opaque (the window's own background colour): a figure's repaint then starts here, not at
        # the dock below, whose title the style lays out again at every paint (its icons looked up).
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        self.machine = MachineLane(timeline)
        self.machine.setToolTip(MachineLane.HELP)
        layout.addWidget(QLabel("Machine: the run's CPUs (own / other programs)"))
        layout.addWidget(self.machine)
        layout.addWidget(QLabel("Per worker"))
        layout.addWidget(self.lanes, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(MIN_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.auto_refresh = True  # False: the window refreshes the panels together (gui/live_numbers.py)
        self._unsubscribe = subscribe_while_alive(self, timeline, self._on_change)
        self.refresh()

    def _on_change(self, change: TimelineChange) -> None:
        if not self.auto_refresh:
            return
        if change.reset or change.status:
            self._timer.stop()
            self.refresh()
        elif (change.tasks or change.lanes or change.machine) and not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Recompute the figures from the Timeline now.

        Standalone use only: in the window the figures are computed off the GUI thread
        (:mod:`procviz.gui.live_numbers`) and handed to :meth:`show_metrics`.
        """
        if self.timeline.run is None:
            self.show_metrics(None)
            return
        started = time.perf_counter()
        metrics = compute_metrics(self.timeline, self.baseline)
        if self.timeline.status is not None and self.timeline.status.outcome:
            self.baseline = serial_baseline_of(self.timeline) or self.baseline
        self.show_metrics(metrics)
        cost_ms = (time.perf_counter() - started) * 1000
        self._timer.setInterval(max(MIN_REFRESH_MS, int(COST_FACTOR * cost_ms)))

    def show_metrics(self, metrics: Metrics | None, problem: str = "") -> None:
        """Show ``metrics`` (None: no run, dashes; or figures that could not be computed: ``problem``)."""
        self.metrics = metrics
        if metrics is None:
            for label in self.values.values():
                label.setText("–")
            if problem:
                self.values["tasks"].setText(f"figures not computed ({problem})")
            self.lanes.setRowCount(0)
            self.machine.update()
            return
        for key, text in summary_texts(metrics).items():
            self.values[key].setText(text)
        self._fill_lanes(metrics)
        self.machine.update()

    def _fill_lanes(self, metrics: Metrics) -> None:
        rows = [lm for lm in metrics.lanes if self._lane_kind(lm.lane) != "parent" or lm.tasks]
        table = self.lanes
        if table.rowCount() != len(rows):
            table.setRowCount(len(rows))
        for r, lm in enumerate(rows):
            name = self.timeline.lanes[lm.lane].name if lm.lane < len(self.timeline.lanes) else str(lm.lane)
            cells = (name, str(lm.pid), count(lm.tasks), seconds(lm.busy_ns), percent(lm.utilization))
            for c, text in enumerate(cells):
                # A cell's item is kept and given only a text that changed: a new item per cell
                # at every refresh (four a second in a live run) had the table re-measure its
                # columns (sized to their contents) and repaint every cell.
                item = table.item(r, c)
                if item is None:
                    item = QTableWidgetItem(text)
                    if c > 0:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    table.setItem(r, c, item)
                elif item.text() != text:
                    item.setText(text)
                else:
                    continue
                if c == 0:  # a long name is cut to the column's width: whole in its tooltip
                    item.setToolTip(f"{text} · pid {lm.pid}")

    def _lane_kind(self, lane: int) -> str:
        return self.timeline.lanes[lane].kind if lane < len(self.timeline.lanes) else ""

    def text(self, key: str) -> str:
        """The text shown for summary line ``key`` (see :func:`summary_texts`)."""
        return self.values[key].text()
