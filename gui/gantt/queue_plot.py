"""The ready queue over time: how many tasks were submitted but not yet started, with arrival marks.

CPU-scheduling classroom tools draw the ready queue next to the Gantt chart, because it explains
the chart: a worker idles while the queue is empty, a long queue means tasks wait. Here a step
line counts the queue (a task joins at submission and leaves when a worker starts it, or when it
is cancelled without starting), and a small mark on the baseline shows each arrival. The plot
shares the chart's time axis (x-linked), so it pans and zooms with it.

Events are folded in incrementally (:mod:`procviz.gui.gantt.queue_steps`) and drawn per pixel
column from a cached envelope (:mod:`procviz.gui.gantt.envelope`): one fill, one outline and one
set of marks, a few ``drawRects``/``drawLines`` calls whatever the number of tasks. A refresh is
still spaced by ten times its own cost, so a million tasks never slow the chart down.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline
from procviz.gui import colors
from procviz.gui.gantt.axis import hide_spare_axes, steady_axes
from procviz.gui.gantt.envelope import ColumnEnvelope, runs
from procviz.gui.gantt.paint import draw_lines, draw_rects
from procviz.gui.gantt.queue_steps import QueueSteps

HEIGHT_PX = 64
MARK_PX = 5  # height of an arrival mark on the baseline
COST_FACTOR = 10
MAX_WAIT_S = 0.5
LIVE_LIMIT = 200_000  # tasks folded in per refresh (a run's million submissions: a few passes of ~20 ms)


def queue_steps(timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """(times in seconds from t0, queue length from each time on) as a left-step series."""
    steps = QueueSteps()
    steps.update(timeline)
    x, y = steps.x, steps.y
    if len(x) == 0:
        return np.zeros(0), np.zeros(0)
    last = np.r_[x[1:] != x[:-1], True]  # one point per distinct time: the count after all of it
    end = (steps.end_ns(timeline) - timeline.t0_ns) * 1e-9
    return np.append(x[last], end), np.append(y[last], y[-1])


def arrival_times(timeline: Timeline) -> np.ndarray:
    """Distinct submission times (seconds from t0)."""
    steps = QueueSteps()
    steps.update(timeline)
    return steps.arrivals


Envelopes = tuple[ColumnEnvelope, ColumnEnvelope]  # (the step line, the arrival marks)


def queue_envelopes(steps: QueueSteps, end_x: float, px: float) -> Envelopes:
    """The item's envelopes for all of ``steps``, with the bins of a view of ``px`` seconds per
    pixel built (no Qt: run off the GUI thread for a file being opened)."""
    line, marks = ColumnEnvelope(carry=True), ColumnEnvelope(carry=False)
    line.set(steps.x, steps.y, 0, end_x)
    marks.set(steps.arrivals, np.ones(len(steps.arrivals)), 0, end_x)
    line.warm(px)
    marks.warm(px)
    return line, marks


class QueueItem(pg.GraphicsObject):
    """The queue's step line, its fill and the arrival marks, drawn per pixel column in a few calls."""

    def __init__(self, fill: QColor) -> None:
        super().__init__()
        self.steps = ColumnEnvelope(carry=True)
        self.marks = ColumnEnvelope(carry=False)
        self._brush = QBrush(QColor(fill.red(), fill.green(), fill.blue(), 110))
        self._pen = QPen(fill.darker(140), 1.5)
        self._pen.setCosmetic(True)
        self._mark_brush = QBrush(fill.darker(160))
        self._bounds = QRectF()
        self.version = 0
        self._cache: tuple[tuple, tuple[np.ndarray, ...]] | None = None

    def set_data(self, steps: QueueSteps, end_x: float, envelopes: Envelopes | None = None) -> None:
        """Take the (changed part of the) queue events and repaint (``envelopes``: built from all
        of ``steps`` already, off the GUI thread: see :func:`queue_envelopes`)."""
        if envelopes is not None:
            self.steps, self.marks = envelopes
        else:
            self.steps.set(steps.x, steps.y, steps.first, end_x)
            self.marks.set(steps.arrivals, np.ones(len(steps.arrivals)), steps.first_arrival, end_x)
        self.version += 1
        lo = float(min(steps.x[0], steps.arrivals[0])) if len(steps.x) else 0.0
        rect = QRectF(lo, 0.0, max(end_x - lo, 1e-9), max(steps.peak, 1.0))
        if rect != self._bounds:
            self.prepareGeometryChange()
            self._bounds = rect
        self.update()

    def boundingRect(self) -> QRectF:
        """The data extent (first event to the end, 0 to the peak)."""
        return QRectF(self._bounds)

    def _shapes(self, vx0: float, vx1: float, px: float, py: float) -> tuple[np.ndarray, ...]:
        key = (self.version, vx0, vx1, px, py)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        left, height = self.steps.columns(vx0, vx1, px)
        known = left < self.steps.end_x  # past the live edge the queue is not known yet: no line
        x0, x1, h = runs(left[known], height[known], px)
        filled = h > 0
        fill = np.column_stack((x0[filled], np.zeros(int(filled.sum())), (x1 - x0)[filled], h[filled]))
        # The outline: a flat line per run, a vertical one where two runs meet.
        lines = np.concatenate((np.column_stack((x0, h, x1, h)),
                                np.column_stack((x1[:-1], h[:-1], x1[:-1], h[1:])))) if len(h) else np.zeros((0, 4))
        left, hit = self.marks.columns(vx0, vx1, px)
        at = left[hit > 0]
        marks = np.column_stack((at, np.zeros(len(at)), np.full(len(at), px), np.full(len(at), MARK_PX * py)))
        shapes = tuple(np.ascontiguousarray(a, np.float64) for a in (fill, lines, marks))
        self._cache = (key, shapes)
        return shapes

    def paint(self, p: QPainter, *args: object) -> None:
        """Fill, outline, arrival marks: three calls whatever the number of tasks."""
        vb = self.getViewBox()
        if vb is None:
            return
        (vx0, vx1), _ = vb.viewRange()
        t = p.transform()
        px = 1.0 / abs(t.m11()) if t.m11() else 0.0
        py = 1.0 / abs(t.m22()) if t.m22() else 0.0
        fill, lines, marks = self._shapes(vx0, vx1, px, py)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self._brush)
        draw_rects(p, fill)
        p.setBrush(self._mark_brush)
        draw_rects(p, marks)
        p.setPen(self._pen)
        draw_lines(p, lines)
        p.restore()


class QueuePlot(pg.PlotItem):
    """A short step plot of the ready queue, x-linked to the chart's view box."""

    def __init__(self, x_link: pg.ViewBox) -> None:
        super().__init__(axisItems=steady_axes())
        hide_spare_axes(self)
        self.hideButtons()
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.setXLink(x_link)
        self.hideAxis("bottom")
        self.setLabel("left", "queued")  # (the tasks' state; "queue" read as a Queue of the program)
        self.getAxis("left").setTickDensity(0.5)
        self.setMaximumHeight(HEIGHT_PX)
        self.setMinimumHeight(HEIGHT_PX)
        self.setToolTip("Queued tasks: submitted to the pool and not yet started by a worker (the step line), "
                        "not the items of a Queue the program uses; each tick on the baseline is a task's "
                        "arrival (submission).")
        self.item = QueueItem(QColor(colors.TASK_STATE_COLORS[TaskState.QUEUED]))
        self.addItem(self.item)
        self.steps = QueueSteps()
        self.peak = 0.0
        self._next_at = 0.0
        self._cost = 0.0
        # A refresh skipped for being too soon is done when its time comes, so the last change of
        # a run is never left out.
        self._timeline: Timeline | None = None
        self._expected: np.ndarray | None = None  # a state column whose events are built elsewhere
        self._later = QTimer(self)  # a child: it goes with the plot
        self._later.setSingleShot(True)
        self._later.timeout.connect(lambda: self._timeline is not None and self.refresh(self._timeline, True))
        self._folded: tuple[int, int] | None = None  # (first, first_arrival) of parts folded but not yet drawn
        self._top = -1  # the count the axis' top tick shows (-1: none yet)

    def fold(self, timeline: Timeline, limit: int) -> bool:
        """Fold in the queue events of at most ``limit`` changed tasks without drawing them (the
        next :meth:`refresh` draws them); whether some are left. Lets the chart spread a big
        change over passes of the event loop."""
        if self._expected is not None and timeline.state is self._expected:
            return False  # being built off the GUI thread (see expect)
        steps = self.steps
        steps.update(timeline, limit)
        first, first_arrival = self._folded or (steps.first, steps.first_arrival)
        # What changed since the last drawing starts at the earliest first of the parts.
        self._folded = (min(first, steps.first), min(first_arrival, steps.first_arrival))
        return steps.more

    def expect(self, columns: np.ndarray) -> None:
        """The events of the Timeline whose state column is ``columns`` are being built off the
        GUI thread: show none until :meth:`adopt` brings them, and do not build them here."""
        self._expected = columns
        self._timeline = None
        self._later.stop()
        self.steps = QueueSteps()
        self._folded = None
        self.item.set_data(self.steps, 0.0)
        self.peak = 0.0
        self._top = -1

    @property
    def expecting(self) -> bool:
        """Whether the shown events are still being built off the GUI thread (see :meth:`expect`)."""
        return self._expected is not None and self._timeline is not None and self._timeline.state is self._expected

    def adopt(self, steps: QueueSteps, timeline: Timeline, envelopes: Envelopes | None = None) -> None:
        """Take queue events built off the GUI thread from the columns ``timeline`` has taken over
        (and the item's envelopes of them, if built there too)."""
        self._expected = None
        self.steps = steps
        self._folded = None
        steps.first = steps.first_arrival = 0  # all of it is new to the item
        self.item.set_data(steps, (steps.end_ns(timeline) - timeline.t0_ns) * 1e-9, envelopes)
        self.refresh(timeline, force=True)

    def refresh(self, timeline: Timeline, force: bool = False) -> bool:
        """Recompute from the Timeline (put off if the last one was recent, unless ``force``)."""
        now = time.perf_counter()
        self._timeline = timeline
        if self._expected is not None and timeline.state is self._expected:
            return False  # being built off the GUI thread (see expect)
        if not force and now < self._next_at:
            if not self._later.isActive():
                self._later.start(max(int((self._next_at - now) * 1000), 1))
            return False
        self._later.stop()
        added = self.steps.update(timeline, LIVE_LIMIT)
        if self._folded is not None:  # parts folded since the last drawing are drawn with this one
            added = True
            self.steps.first = min(self.steps.first, self._folded[0])
            self.steps.first_arrival = min(self.steps.first_arrival, self._folded[1])
            self._folded = None
        end_x = (self.steps.end_ns(timeline) - timeline.t0_ns) * 1e-9
        if added or end_x != self.item.steps.end_x:  # (the line runs on to the live edge)
            self.item.set_data(self.steps, end_x)
        if self.steps.peak != self.peak or self._top < 0:  # (the axis redraws its picture on every setTicks)
            self.peak = self.steps.peak
            self.setYRange(0, max(self.peak, 1.0) * 1.15, padding=0)
            # Two ticks, 0 and the peak: a count has no halves, and the plot is small.
            self._top = top = int(max(self.peak, 1.0))
            self.getAxis("left").setTicks([[(0.0, "0"), (float(top), str(top))]])
        self._cost = time.perf_counter() - now
        # (Capped: the first fold of a million submissions costs far more than the ones after.)
        self._next_at = now + min(COST_FACTOR * self._cost, MAX_WAIT_S)
        if self.steps.more:  # the rest of a big change in the next pass of the event loop
            self._next_at = now
            self._later.start(0)
        return True
