"""The ready queue over time: how many tasks were submitted but not yet started, with arrival marks.

CPU-scheduling classroom tools draw the ready queue next to the Gantt chart, because it explains
the chart: a worker idles while the queue is empty, a long queue means tasks wait. Here a step
line counts the queue (a task joins at submission and leaves when a worker starts it, or when it
is cancelled without starting), and a small mark on the baseline shows each arrival. The plot
shares the chart's time axis (x-linked), so it pans and zooms with it.

Recomputing is one sort of the submission and start times; during a live run it is spaced by
ten times its own cost, so a million tasks never slow the chart down.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline
from procviz.gui import colors

HEIGHT_PX = 64
MAX_ARRIVAL_MARKS = 5000
COST_FACTOR = 10


def queue_steps(timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds from t0, queue length from each time on) as a left-step series."""
    tl = timeline
    sub = tl.submitted_ns
    submitted = sub >= 0
    if not np.any(submitted):
        return np.zeros(0), np.zeros(0)
    started = tl.start_ns >= 0
    # A task leaves the queue when it starts, or (cancelled before starting) when it ends.
    left_without_start = ~started & (tl.end_ns >= 0) & (tl.state >= TaskState.DONE)
    leave = np.where(started, tl.start_ns, np.where(left_without_start, tl.end_ns, -1))
    leaves = submitted & (leave >= 0)
    times = np.concatenate((sub[submitted], np.maximum(leave[leaves], sub[leaves])))
    steps = np.concatenate((np.ones(int(submitted.sum()), np.int64), -np.ones(int(leaves.sum()), np.int64)))
    order = np.lexsort((-steps, times))  # at one instant, arrivals first: a task queued for 0 s still counts
    times, counts = times[order], np.cumsum(steps[order])
    # One point per distinct time: the count after everything that happened then.
    last = np.r_[times[1:] != times[:-1], True]
    times, counts = times[last], counts[last]
    end = max(int(tl.now_ns), int(times[-1]))
    times = np.append(times, end)
    counts = np.append(counts, counts[-1])
    return (times - tl.t0_ns) * 1e-9, counts.astype(np.float64)


def arrival_times(timeline: Timeline) -> np.ndarray:
    """Distinct submission times (seconds from t0), at most MAX_ARRIVAL_MARKS of them."""
    sub = timeline.submitted_ns[timeline.submitted_ns >= 0]
    distinct = np.unique(sub)
    if len(distinct) > MAX_ARRIVAL_MARKS:
        distinct = distinct[np.linspace(0, len(distinct) - 1, MAX_ARRIVAL_MARKS).astype(np.int64)]
    return (distinct - timeline.t0_ns) * 1e-9


class QueuePlot(pg.PlotItem):
    """A short step plot of the ready queue, x-linked to the chart's view box."""

    def __init__(self, x_link: pg.ViewBox) -> None:
        super().__init__()
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.setXLink(x_link)
        self.hideAxis("bottom")
        self.setLabel("left", "queue")
        self.getAxis("left").setTickDensity(0.5)
        self.setMaximumHeight(HEIGHT_PX)
        self.setMinimumHeight(HEIGHT_PX)
        self.setToolTip("Ready queue: tasks submitted and not yet started (the step line); "
                        "each tick on the baseline is a task's arrival (submission).")
        fill = QColor(colors.TASK_STATE_COLORS[TaskState.QUEUED])
        self.curve = pg.PlotDataItem(stepMode="left", pen=pg.mkPen(fill.darker(140), width=1.5),
                                     fillLevel=0, brush=pg.mkBrush(fill.red(), fill.green(), fill.blue(), 110))
        self.addItem(self.curve)
        # After addItem: PlotItem.addItem hands its own (off) downsampling and clipping to the item.
        # Without them a million-task run draws every step of the queue on every repaint (~0.7 s).
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.arrivals = pg.ScatterPlotItem(symbol="t1", size=7, pen=None, brush=pg.mkBrush(fill.darker(160)))
        self.addItem(self.arrivals)
        self.peak = 0.0
        self._next_at = 0.0
        self._cost = 0.0
        # A refresh skipped for being too soon is done when its time comes, so the last change of
        # a run is never left out.
        self._timeline: Timeline | None = None
        self._later = QTimer(self)  # a child: it goes with the plot
        self._later.setSingleShot(True)
        self._later.timeout.connect(lambda: self._timeline is not None and self.refresh(self._timeline, True))

    def refresh(self, timeline: Timeline, force: bool = False) -> bool:
        """Recompute from the Timeline (put off if the last one was recent, unless ``force``)."""
        now = time.perf_counter()
        self._timeline = timeline
        if not force and now < self._next_at:
            if not self._later.isActive():
                self._later.start(max(int((self._next_at - now) * 1000), 1))
            return False
        self._later.stop()
        t, n = queue_steps(timeline)
        self.curve.setData(t, n)
        arrivals = arrival_times(timeline)
        self.arrivals.setData(arrivals, np.zeros(len(arrivals)))
        self.peak = float(n.max()) if len(n) else 0.0
        self.setYRange(0, max(self.peak, 1.0) * 1.15, padding=0)
        # Two ticks, 0 and the peak: a count has no halves, and the plot is small.
        top = int(max(self.peak, 1.0))
        self.getAxis("left").setTicks([[(0.0, "0"), (float(top), str(top))]])
        self._cost = time.perf_counter() - now
        self._next_at = now + COST_FACTOR * self._cost
        return True
