"""One refresh for every number on screen: progress, metrics and the task table move together.

Each panel used to refresh on its own schedule (progress on every change, metrics and the table
throttled), so mid-run the progress line could say 2 finished while the metrics said 0 done. Here
one listener refreshes all of them at the same moment, from the same Timeline state: on a reset
or a run-status change at once, on task changes at most every :data:`MIN_REFRESH_MS` (or ten
times what the last refresh cost, so a million tasks never starve the event loop). A separate
clock ticks the progress line's elapsed time while a run is live.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.panels.metrics_panel import MetricsPanel
from procviz.gui.panels.progress_panel import ProgressPanel
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.task_model import TaskTableModel

MIN_REFRESH_MS = 150
COST_FACTOR = 10
CLOCK_MS = 100


class LiveNumbers(QObject):
    """Refreshes ``progress``, ``metrics`` and ``table`` together; ticks the elapsed time."""

    def __init__(self, timeline: Timeline, progress: ProgressPanel, metrics: MetricsPanel,
                 table: TaskTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.progress, self.metrics, self.table = progress, metrics, table
        for panel in (progress, metrics, table):
            panel.auto_refresh = False
        self.refreshes = 0
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(MIN_REFRESH_MS)
        self._pending.timeout.connect(self.refresh)
        self.clock = QTimer(self)
        self.clock.setInterval(CLOCK_MS)
        self.clock.timeout.connect(progress.tick)
        self._unsubscribe = subscribe_while_alive(self, timeline, self._on_change)

    def set_live(self, live: bool) -> None:
        """A run started (elapsed time follows the clock) or ended (final numbers, clock stops)."""
        self.progress.live = live
        if live:
            self.clock.start()
        else:
            self.clock.stop()
            self.refresh()

    def _on_change(self, change: TimelineChange) -> None:
        if change.reset or change.status or change.lanes:
            self.refresh()
        elif change.tasks and not self._pending.isActive():
            self._pending.start()

    def refresh(self) -> None:
        """Every panel from the Timeline as it is now (no batch is applied in between: GUI thread)."""
        self._pending.stop()
        started = time.perf_counter()
        self.progress.refresh()
        self.metrics.refresh()
        self.table.refresh_now()
        self.refreshes += 1
        cost_ms = 1000 * (time.perf_counter() - started)
        self._pending.setInterval(max(MIN_REFRESH_MS, int(COST_FACTOR * cost_ms)))
