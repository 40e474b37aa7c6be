"""One refresh for every number on screen: progress, metrics and the task table move together.

Each panel used to refresh on its own schedule (progress on every change, metrics and the table
throttled), so mid-run the progress line could say 2 finished while the metrics said 0 done. Here
one listener refreshes all of them at the same moment, from the same Timeline state: on a reset
at once; on a run-status change in the next pass of the event loop; on task changes in the next
pass too unless the last refresh was less than ten times its own cost ago (then once that time
is up). So a small run's numbers are never a tick behind the chart, a million tasks never starve
the event loop, and the refresh is never added to the tick that applied the change. A separate clock
ticks the progress line's elapsed time while a run is live.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.panels.metrics_panel import MetricsPanel
from procviz.gui.panels.progress_panel import ProgressPanel
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.task_model import TaskTableModel

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
        self._last = 0.0  # perf_counter() of the last refresh
        self._cost = 0.0  # what it cost, in seconds
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
        if change.reset:
            self.refresh()
        elif (change.status or change.lanes) and not self._pending.isActive():
            self._pending.start(0)  # at once, but in a pass of its own (see below)
        elif change.tasks and not self._pending.isActive():
            # Never inside the tick that applied the change: in an event-loop pass of its own
            # (0 ms when due), so applying, the chart's fold and this refresh never add up to
            # one long freeze of the GUI thread.
            wait_s = self._last + COST_FACTOR * self._cost - time.perf_counter()
            self._pending.start(max(int(wait_s * 1000), 0))

    def refresh(self) -> None:
        """Every panel from the Timeline as it is now (no batch is applied in between: GUI thread)."""
        self._pending.stop()
        started = time.perf_counter()
        self.progress.refresh()
        self.metrics.refresh()
        self.table.refresh_now()
        self.refreshes += 1
        self._last = time.perf_counter()
        self._cost = self._last - started
