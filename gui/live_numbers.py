"""One refresh for every number on screen: progress, metrics and the task table move together.

Each panel used to refresh on its own schedule (progress on every change, metrics and the table
throttled), so mid-run the progress line could say 2 finished while the metrics said 0 done. Here
one listener refreshes all of them at the same moment, from the same state of the Timeline: a
frozen copy taken on the GUI thread, whose figures a worker thread computes
(:mod:`procviz.gui.numbers_worker`); when they arrive, the progress counts, the figures and the
table's rows are all taken from that copy. So the GUI thread never runs ``compute_metrics``
(tens of milliseconds at 100k tasks), and the numbers are at most one refresh behind the chart.

When: on a reset, a run-status change, in the next pass of the event loop (not while a live run
has submitted nothing yet: its first numbers come with its submissions); on task changes in the
next pass too unless the last refresh was less than ten times its own cost (and at least 100 ms)
ago (then once that time is up); on new strip or machine rows alone (a live run of long tasks)
once a second; never while a job is out (the change is taken by the next one).
Outside a live run (a file, a finished run) nothing writes the shown columns any more (a new
run replaces them), so the worker reads them as they are, without a copy. A separate clock
ticks the progress line's elapsed time while a run is live.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from procviz.engine.events import TaskState
from procviz.engine.metrics import Metrics
from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.numbers_worker import FrozenCopy, NumbersJob, NumbersResult, NumbersWorker
from procviz.gui.panels.metrics_panel import MetricsPanel
from procviz.gui.panels.progress_panel import ProgressPanel
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.task_model import TaskTableModel
from procviz.gui.timeline_io import kept_aside

COST_FACTOR = 10
MIN_INTERVAL_S = 0.25  # a live run's numbers change at most four times a second (read by a person)
CLOCK_MS = 100
# A live run whose tasks do not change for a while (long tasks) still gets new strip and machine
# rows: its figures follow them this often (the machine lane, other load, the state totals).
STRIP_ONLY_S = 1.0
PENDING = int(TaskState.PENDING)  # (an int: numpy compares an IntEnum through int64)


class LiveNumbers(QObject):
    """Refreshes ``progress``, ``metrics`` and ``table`` together; ticks the elapsed time.

    ``shown`` is emitted after each refresh reached the screen.
    """

    shown = Signal()

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
        self._last = 0.0  # perf_counter() when the last refresh was shown
        self._cost = 0.0  # what it cost (the worker's CPU time and the GUI thread's), in seconds
        self._pending.timeout.connect(self.refresh)
        self._strip_only = False  # the refresh due is for new strip or machine rows alone
        self._frozen = FrozenCopy()
        self._out: NumbersJob | None = None  # the job the worker has
        self._again = False  # something changed after that job's copy was taken
        self.worker = NumbersWorker()
        self.worker.computed.connect(self._on_computed)
        worker = self.worker
        self.destroyed.connect(lambda *_: worker.close())  # (must not reference self: gone by then)
        self.clock = QTimer(self)
        self.clock.setInterval(CLOCK_MS)
        self.clock.timeout.connect(progress.tick)
        self._unsubscribe = subscribe_while_alive(self, timeline, self._on_change)

    @property
    def settled(self) -> bool:
        """Whether the numbers shown are of the Timeline as it is (no job out, none due)."""
        return self._out is None and not self._again and not self._pending.isActive()

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
            # Another run or file: no numbers until its own arrive, all together (the table
            # hears of the reset itself and waits for them too).
            self.metrics.show_metrics(None)
            self.progress.await_counts()
            # The frozen copy of a run's columns (~4 ms at 100k tasks) in a pass of its own, not
            # inside the tick that applied the run's start (as below).
            if not self._nothing_submitted():
                self._arm(0)
        elif (change.status or change.lanes) and self._free() and not self._nothing_submitted():
            self._arm(0)  # at once, but in a pass of its own (see below)
        elif change.tasks and self._free():
            # Never inside the tick that applied the change: in an event-loop pass of its own
            # (0 ms when due), so applying, the chart's fold and this refresh never add up to
            # one long freeze of the GUI thread.
            self._arm(self._wait_ms())
        elif (change.intervals or change.resources) and self.progress.live and not self._pending.isActive():
            # Only the strips or the machine lane moved: once a second (six seconds of two long
            # tasks showed "none read yet" for other load, and an empty machine lane, throughout).
            since = time.perf_counter() - self._last
            self._arm(max(self._wait_ms(), int((STRIP_ONLY_S - since) * 1000), 0), strip_only=True)

    def _free(self) -> bool:
        """Whether a change of tasks, lanes or status may (re)arm the refresh: none is due, or only
        one for strip rows (which must not hold the change back up to a second)."""
        return not self._pending.isActive() or self._strip_only

    def _arm(self, wait_ms: int, strip_only: bool = False) -> None:
        self._pending.start(wait_ms)
        self._strip_only = strip_only

    def _nothing_submitted(self) -> bool:
        """Whether a live run has not submitted a task yet: its numbers would say only that every
        task is pending, so its first numbers wait for its submissions (the next change of tasks,
        tens of milliseconds later) rather than be taken, computed and shown twice before its
        first task starts (a copy of its columns, the figures on the worker thread, the panels'
        and the table's repaints: CPU the booting workers do not get)."""
        tl = self.timeline
        return self.progress.live and tl.run is not None and not np.any(tl.state != PENDING)

    def _wait_ms(self) -> int:
        if not self.progress.live:
            return 0  # a run's end or a file: its numbers at once
        pause = max(COST_FACTOR * self._cost, MIN_INTERVAL_S)
        return max(int((self._last + pause - time.perf_counter()) * 1000), 0)

    def refresh(self) -> None:
        """Every panel from the Timeline as it is now: at once when there is no run, else when the
        worker brings the figures back."""
        self._pending.stop()
        tl = self.timeline
        if tl.run is None:
            self._frozen.forget()
            self._show(tl, None)
            return
        if self._out is not None:
            self._again = True  # taken by the next job, once this one is back
            return
        self._again = False
        live = self.progress.live
        frozen = self._frozen.take(tl) if live else kept_aside(tl)
        assert frozen is not None  # (tl has a run)
        self._out = NumbersJob(frozen, self.metrics.baseline, tl.state, final=not live)
        self.worker.submit(self._out)

    def _on_computed(self, result: NumbersResult) -> None:
        job, self._out = result.job, None
        if job.columns is self.timeline.state:
            # Figures that could not be computed are shown as such, with the counts and rows of the
            # same moment: skipped, the panels kept an earlier moment and a finished run's outcome
            # waited for a refresh that never came ("finishing…" for good).
            self.metrics.baseline = result.baseline
            self._show(job.frozen, result.metrics, result.cpu_s, result.problem)
        else:
            self._again = True  # another run or file since: its own numbers
        if self._again and self._free():
            self._arm(self._wait_ms())

    def _show(self, source: Timeline, metrics: Metrics | None, worker_s: float = 0.0, problem: str = "") -> None:
        """Show ``source``'s numbers (the shown Timeline, or a frozen copy of it) in every panel;
        ``problem``: why there are no figures."""
        started = time.perf_counter()
        self.progress.refresh(source)
        self.metrics.show_metrics(metrics, problem)
        self.table.refresh_now(source)
        self.refreshes += 1
        self._last = time.perf_counter()
        self._cost = self._last - started + worker_s
        self.shown.emit()
