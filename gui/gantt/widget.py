"""GanttWidget: the live chart of a Timeline (legend on top, lanes down the left, time along the bottom).

The widget listens to ``timeline.subscribe``; a listener only marks the model stale and starts a
single-shot timer, so however many batches the GUI applies in one go, the chart folds them in
once (:meth:`GanttWidget.flush`) and repaints once. The timer is paced by what the last fold and
repaint cost (``PACE``): a cheap chart follows every tick, an expensive one updates less often.

Keys (when the chart has focus): ``+``/``-`` zoom time, arrows pan (left/right: time, up/down:
rows), Home fits everything. Mouse: wheel zooms time, Shift+wheel scrolls rows, drag pans.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QKeyEvent, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.gantt import layout, tooltip
from procviz.gui.gantt.axis import LaneAxis, hide_spare_axes, steady_axes
from procviz.gui.gantt.item import TimelineItem
from procviz.gui.gantt.legend import LegendBar, default_entries
from procviz.gui.gantt.model import GanttModel
from procviz.gui.gantt.queue_plot import QueuePlot, queue_envelopes
from procviz.gui.gantt.queue_steps import QueueSteps
from procviz.gui.gantt.viewbox import GanttViewBox

ZOOM_STEP = 1.5
MAX_LABEL_AXIS_PX = 260  # lane labels wider than this are cut rather than squeezing the chart
PAN_STEP = 0.1  # of the visible width
FOLLOW_AT = 0.95  # the live edge may go this far across the view before the view moves
FOLLOW_TO = 0.90  # ... and is then put back here
PACE = 3  # the chart's folds and repaints take at most a third of the GUI thread
MAX_PACE_S = 0.25  # ... but it is never further behind than this (a run's first fold is costly)
MIN_PACE_S = 0.1  # ... and a live chart folds and repaints at most 10 times a second: the pace above is
#                   relative, so a cheaper fold was spent on more folds (30 a second, more than the engine's
#                   batches bring) and the window's CPU stayed the same; every repaint is CPU the workers
#                   do not get, and ten pictures a second still show the run as it goes
FOLD_SLICE = 25_000  # the paced fold takes at most this many changed tasks a pass of the event loop (at most
#                     ~3 ms here): a run's big changes (100k submissions at once, 15-40k ends between folds)
#                     cost 15-25 ms of one slice, which a machine whose cores the workers fill stretched to
#                     50-100 ms (the GUI thread waits in the run queue as long as it runs): timers, input
#                     and the other views now get their turn between slices. The view moves once, at the end,
#                     in a pass of its own (with the repaint it brings). (10k a slice, when the queue's fold
#                     cost twice what it does now: each slice also scans the task columns, 4-5 ms a 100k run
#                     more in slices of 10k than of 25k.)
MAX_SLICES = 8  # ... or a larger part of a huge timeline: each pass also scans a byte per task
LIVE_ROOM = 1.5  # while a run is live, the fitted view shows this much of the run's span: room ahead
#                  of the live edge, so the time range (and the axis, and both plots' transforms) changes
#                  only when the edge reaches it (a few times a run), not at every fold


class ChartView(pg.GraphicsLayoutWidget):
    """The chart's canvas: the ready-queue plot on top, the lanes below, sharing the time axis."""

    def __init__(self, view_box: GanttViewBox, lane_axis: LaneAxis) -> None:
        super().__init__()
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.ci.layout.setSpacing(0)
        self.main = pg.PlotItem(viewBox=view_box, axisItems=steady_axes(left=lane_axis))
        hide_spare_axes(self.main)
        self.queue = QueuePlot(view_box)
        self.addItem(self.queue, row=0, col=0)
        self.addItem(self.main, row=1, col=0)

    def getPlotItem(self) -> pg.PlotItem:  # noqa: N802 - PlotWidget's name, which callers use
        """The lanes plot (as PlotWidget.getPlotItem would give)."""
        return self.main

    last_paint_s = 0.0  # what the last repaint of the chart cost (the widget paces its updates by it)

    def paintEvent(self, ev: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Paint, timing it."""
        started = time.perf_counter()
        super().paintEvent(ev)
        self.last_paint_s = time.perf_counter() - started


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` towards ``b`` (opaque, so lines need no blending)."""
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


class GanttWidget(QWidget):
    """The Gantt chart of one :class:`Timeline`: one row per lane, a bar per started task."""

    taskClicked = Signal(int)
    taskHovered = Signal(int)
    followChanged = Signal(bool)

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view_box = GanttViewBox()
        self.lane_axis = LaneAxis()
        self.plot = ChartView(self.view_box, self.lane_axis)
        self.legend = LegendBar(self)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.legend)
        box.addWidget(self.plot, 1)

        pi = self.plot.getPlotItem()
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.setLabel("bottom", "time since start", units="s")
        self.view_box.disableAutoRange()
        self.view_box.setMouseEnabled(x=True, y=True)
        self.view_box.panned.connect(lambda: self.set_follow(False))
        self.view_box.sigRangeChangedManually.connect(self._touched)
        self.plot.installEventFilter(self)
        self.setFocusProxy(self.plot)

        self._follow = False
        self._fitted = False
        self._auto_fit = True  # until the user moves the view, keep showing the whole run
        self._live = False  # a run is live: the fitted view leaves room ahead (LIVE_ROOM)
        self._closing = False  # the run ended: the next fold closes the fitted view on it
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._paced_fold)
        self._slices_cost = 0.0  # what the slices of the fold under way cost so far, in seconds
        self._view_due = False  # its slices are all in: the view's update is the next pass
        self._unsubscribe: Callable[[], None] | None = None
        self._flushed_version = -1
        self._flushed_at = 0.0  # perf_counter() at the end of the last flush
        self._flush_cost = 0.0  # what it cost, in seconds
        self._axis_width = 0
        self.timeline: Timeline
        self.model: GanttModel
        self.item: TimelineItem | None = None
        self._apply_palette()
        self.set_timeline(timeline)

    # ---- timeline -------------------------------------------------------------------------------

    def set_timeline(self, timeline: Timeline) -> None:
        """Show another Timeline (unsubscribes from the previous one)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.timeline = timeline
        self.model = GanttModel(timeline)
        if self.item is not None:
            self.view_box.removeItem(self.item)
        self.item = TimelineItem(self.model)
        self.item.taskClicked.connect(self.taskClicked)
        self.item.taskHovered.connect(self.taskHovered)
        self.view_box.addItem(self.item)
        self._apply_palette()
        unsubscribe = timeline.subscribe(self._on_change)
        self._unsubscribe = unsubscribe
        # The listener holds this widget; drop it when the C++ side goes (the lambda must not
        # reference self, which is gone by then).
        self.destroyed.connect(lambda *_: unsubscribe())
        self._fitted = False
        self._flushed_version = -1
        self.flush()

    def preparer(self) -> Callable[[Timeline], Callable[[], None]]:
        """Work to index a file's Timeline for its bars off the GUI thread, and the hand-over back on it.

        Call on the GUI thread (it notes the view's width); run what it returns on a worker
        thread with the Timeline just read, which nothing else touches yet: it builds the lane
        series and the merged bars for the fitted view. What that returns runs on the GUI thread
        once the shown Timeline has taken over that Timeline's columns
        (:func:`procviz.gui.timeline_io.adopt_into`), before the reset is announced: the chart
        then shows the prepared model and the reset finds nothing to rebuild. The queue plot
        stays empty until :meth:`queue_preparer`'s work brings its events.
        """
        width = max(self.view_box.width(), 100.0)

        def work(loaded: Timeline) -> Callable[[], None]:
            model = GanttModel(loaded)
            model.sync()
            lo, hi = model.x_extent()
            pad = 0.01 * max(hi - lo, 1e-9)
            model.frame(lo - pad, hi + pad, (hi - lo + 2 * pad) / width, range(model.lane_count))  # warms the LOD
            return lambda: self._adopt(model)

        return work

    def queue_preparer(self) -> Callable[[Timeline], Callable[[], None]]:
        """Work to build a shown file's queue events off the GUI thread (on a view of its columns,
        after they were shown), and the hand-over back on it (dropped if those columns are no
        longer shown)."""

        width = max(self.view_box.width(), 100.0)

        def work(view: Timeline) -> Callable[[], None]:
            steps = QueueSteps()
            steps.update(view)
            columns = view.state
            end_x = (steps.end_ns(view) - view.t0_ns) * 1e-9
            lo = float(min(steps.x[0], steps.arrivals[0])) if len(steps.x) else 0.0
            envelopes = queue_envelopes(steps, end_x, 1.02 * max(end_x - lo, 1e-9) / width)  # the fitted view

            def install() -> None:
                if self.timeline.state is columns:
                    self.plot.queue.adopt(steps, self.timeline, envelopes)

            return install

        return work

    def _adopt(self, model: GanttModel) -> None:
        model.rebind(self.timeline)
        self.model = model
        self._item().set_model(model)
        self.plot.queue.expect(self.timeline.state)  # (its events are built off the GUI thread)
        self._flushed_version = -1

    def detach(self) -> None:
        """Stop listening to the timeline (the widget then shows a frozen picture)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()

    def _on_change(self, change: TimelineChange) -> None:
        if change.reset:
            self._fitted = False
            self.select_task(-1)  # another run or file: task ids mean other tasks now
            self.set_matches(np.zeros(0, np.int64))
        self.model.invalidate(change.reset)
        if self._timer.isActive() and not change.reset:
            return  # a fold is already due: it takes this change too
        # Paced: folding and repainting the chart take at most 1/PACE of the GUI thread, so an
        # expensive chart (a million bars, a loaded machine) updates less often instead of
        # leaving the workers and the rest of the window less CPU.
        cost = self._flush_cost + self.plot.last_paint_s
        pace = max(min(PACE * cost, MAX_PACE_S), MIN_PACE_S)
        wait_s = 0.0 if change.reset else self._flushed_at + pace - time.perf_counter()
        self._timer.start(max(int(wait_s * 1000), 0))

    def _paced_fold(self) -> None:
        """The paced timer's fold: the changed tasks a slice at a time (``FOLD_SLICE``), one pass of
        the event loop each, then the view's update (:meth:`flush`, and the repaint it brings) in a
        pass of its own once all are in: the last slice and the repaint were one long slice."""
        if self._view_due:
            self.flush()
            return
        started = time.perf_counter()
        limit = max(FOLD_SLICE, len(self.timeline.state) // MAX_SLICES)
        self.model.sync(limit)
        # (A rebuild of every bar, a run's start, is this pass's slice: the queue's events follow.)
        more = self.model.more or self.model.rebuilt or self.plot.queue.fold(self.timeline, limit)
        self._slices_cost += time.perf_counter() - started
        self._view_due = not more
        self._timer.start(0)  # (the timers already due run first)

    def flush(self) -> None:
        """Fold pending timeline changes into the chart now (normally done by a paced timer)."""
        started = time.perf_counter()
        try:
            self._flush()
        finally:
            self._flushed_at = time.perf_counter()
            self._flush_cost = self._flushed_at - started + self._slices_cost  # (a fold's pace counts its slices)
            self._slices_cost = 0.0
            self._view_due = False

    def _flush(self) -> None:
        self._timer.stop()
        self.model.sync()
        # Compare versions rather than trusting sync()'s answer: zoom_to_fit() (called by the
        # window right after a file opens) syncs the model too, and the labels must follow anyway.
        if self.model.version == self._flushed_version and self._fitted and not self._closing:
            return
        self._flushed_version = self.model.version
        labels = tooltip.lane_labels(self.timeline.lanes)
        labels += [f"lane {i}" for i in range(len(labels), self.model.lane_count)]
        self.lane_axis.set_labels(labels)
        assert self.item is not None  # set_timeline made it
        self._align_left_axes(labels)
        # With every fold (which is paced itself): a queue refresh put off to its own timer was a
        # second repaint of the whole chart. (So the queue plot's own pacing, force=False, now
        # serves only its tests; left in place rather than change what they assert.)
        self.plot.queue.refresh(self.timeline, force=True)
        self.item.set_labels(labels)
        self.legend.set_entries(default_entries(chunks=self.model.has_chunks))
        self.item.refresh()
        self._update_limits()
        if not self._fitted and (self.model.lane_count or self.timeline.run is not None):
            self.zoom_to_fit()
        elif self._follow:
            self._follow_edge()
        elif self._auto_fit and self._fitted:
            lo, hi = self.model.x_extent()
            x0, x1 = self.view_box.viewRange()[0]
            if self._closing or lo < x0 or hi > x1 or self._fit_rows() > self.view_box.viewRange()[1][1] + 1e-9:
                self.zoom_to_fit()
        self._closing = False
        # Apply the new ranges' transforms now: pyqtgraph does it at the start of the next paint,
        # which then marks the view boxes dirty again, and every fold cost two repaints.
        self.view_box.prepareForPaint()
        self.plot.queue.getViewBox().prepareForPaint()

    # ---- selection and search -------------------------------------------------------------------

    def select_task(self, task_id: int, reveal: bool = False) -> None:
        """Outline ``task_id``'s bar; with ``reveal``, move the view so the bar is in it."""
        self._item().set_selected(task_id)
        if reveal and task_id >= 0:
            self.reveal_task(task_id)

    def selected_task(self) -> int:
        """The task whose bar is outlined, or -1."""
        return self._item().selected

    def set_matches(self, ids: np.ndarray) -> None:
        """Mark these tasks as search matches (dashed outlines); an empty array clears them."""
        self._item().set_matches(ids)

    def _item(self) -> TimelineItem:
        assert self.item is not None  # set_timeline made it
        return self.item

    def reveal_task(self, task_id: int) -> None:
        """Pan (and zoom out if the bar is wider than the view) so ``task_id``'s bar is in view."""
        tl = self.timeline
        if not 0 <= task_id < tl.n_tasks or tl.start_ns[task_id] < 0 or tl.lane[task_id] < 0:
            return
        self.flush()
        x0 = float(self.model.x_of(int(tl.start_ns[task_id])))
        end = int(tl.end_ns[task_id])
        x1 = float(self.model.x_of(end)) if end >= 0 else max(self.model.now_x, x0)
        (vx0, vx1), (vy0, vy1) = self.view_box.viewRange()
        width = vx1 - vx0
        if x0 < vx0 or x1 > vx1:
            if x1 - x0 > 0.9 * width:
                width = (x1 - x0) / 0.8
            centre = (x0 + x1) / 2
            self.set_follow(False)
            self._auto_fit = False
            self.view_box.setXRange(centre - width / 2, centre + width / 2, padding=0)
        lane = int(tl.lane[task_id])
        if lane < vy0 or lane + 1 > vy1:
            rows = vy1 - vy0
            top = min(max(lane + 0.5 - rows / 2, 0.0), max(self.model.lane_count - rows, 0.0))
            self._auto_fit = False
            self.view_box.setYRange(top, top + rows, padding=0)

    def bar_in_view(self, task_id: int) -> bool:
        """Whether ``task_id``'s bar overlaps the visible part of the chart."""
        tl = self.timeline
        if not 0 <= task_id < tl.n_tasks or tl.start_ns[task_id] < 0:
            return False
        (vx0, vx1), (vy0, vy1) = self.view_box.viewRange()
        x0 = float(self.model.x_of(int(tl.start_ns[task_id])))
        end = int(tl.end_ns[task_id])
        x1 = float(self.model.x_of(end)) if end >= 0 else self.model.now_x
        lane = int(tl.lane[task_id])
        return x1 >= vx0 and x0 <= vx1 and lane + 1 > vy0 and lane < vy1

    def _align_left_axes(self, labels: list[str]) -> None:
        """Lane labels get the room they need (within reason); the queue plot's axis the same, so
        both plots start at the same x and share one time axis."""
        metrics = QFontMetrics(self.lane_axis.style.get("tickFont") or self.font())
        widest = max((metrics.horizontalAdvance(text) for text in labels), default=0)
        width = int(min(max(widest + 18, 70), MAX_LABEL_AXIS_PX))
        if width != self._axis_width:
            self._axis_width = width
            self.lane_axis.setWidth(width)
            self.plot.queue.getAxis("left").setWidth(width)
            # The plots' new geometry now, not in a layout pass after the coming repaint: that pass
            # resized the view boxes and the whole chart was painted a second time (5-7 ms).
            for plot in (self.plot.main, self.plot.queue):
                plot.layout.activate()

    def _touched(self, *args: object) -> None:
        """The user zoomed or panned: stop re-fitting on new data and on resize."""
        self._auto_fit = False

    # ---- view -----------------------------------------------------------------------------------

    def _fit_rows(self) -> float:
        """Rows to show at once: all lanes, but never rows taller than MAX_ROW_PX."""
        height = self.view_box.height() or self.height()
        return max(float(self.model.lane_count), height / layout.MAX_ROW_PX if height > 0 else 1.0, 1.0)

    def _update_limits(self) -> None:
        rows = self._fit_rows()
        self.view_box.setLimits(yMin=-0.5, yMax=rows + 0.5, maxYRange=rows + 1.0, minXRange=1e-6)

    def zoom_to_fit(self) -> None:
        """Show the whole run: every lane, first to last drawn time (while a run is live, with room
        ahead of the live edge: see :meth:`set_live`)."""
        self.model.sync()
        lo, hi = self.model.x_extent()
        if hi <= lo:
            hi = lo + 1.0
        pad = 0.01 * (hi - lo)
        right = lo + LIVE_ROOM * (hi - lo) if self._live else hi + pad
        self._update_limits()
        self.view_box.setRange(xRange=(lo - pad, right), yRange=(0.0, self._fit_rows()), padding=0)
        self._fitted = True
        self._auto_fit = True

    def set_live(self, live: bool) -> None:
        """A run started (the fitted view leaves room ahead of its live edge) or ended (the fitted
        view closes on the whole run)."""
        live = bool(live)
        if live == self._live:
            return
        self._live = live
        if not live:  # in the next fold, not here: the run's end is shown first, then its whole picture
            self._closing = True
            self._timer.start(0)

    def set_follow(self, on: bool) -> None:
        """Keep the live edge (``timeline.now_ns``) in view while a run goes on."""
        on = bool(on)
        if on == self._follow:
            return
        self._follow = on
        if on:
            self._follow_edge()
        self.followChanged.emit(on)

    def follow(self) -> bool:
        """Whether follow mode is on."""
        return self._follow

    def _follow_edge(self) -> None:
        now = self.model.now_x
        x0, x1 = self.view_box.viewRange()[0]
        width = x1 - x0
        if x0 <= now <= x0 + FOLLOW_AT * width:
            return
        start = max(self.model.x_extent()[0], now - FOLLOW_TO * width)
        self.view_box.setXRange(start, start + width, padding=0)

    def zoom(self, factor: float) -> None:
        """Zoom time by ``factor`` (> 1 zooms out) around the view centre, or the live edge when following."""
        (x0, x1), _ = self.view_box.viewRange()
        centre = self.model.now_x if self._follow else (x0 + x1) / 2
        self._auto_fit = False
        self.view_box.setXRange(centre - (centre - x0) * factor, centre + (x1 - centre) * factor, padding=0)

    def pan(self, dx_fraction: float = 0.0, rows: float = 0.0) -> None:
        """Move the view by a fraction of its width and/or by rows (a manual move: follow stops)."""
        (x0, x1), _ = self.view_box.viewRange()
        self._auto_fit = False
        self.view_box.translateBy(x=dx_fraction * (x1 - x0) if dx_fraction else None, y=rows or None)
        if dx_fraction:
            self.set_follow(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Chart keys on the plot: +/- zoom, arrows pan, Home fits."""
        if watched is self.plot and event.type() == QEvent.Type.KeyPress:
            return self._key(event)  # type: ignore[arg-type]
        return super().eventFilter(watched, event)

    def _key(self, ev: QKeyEvent) -> bool:
        k = ev.key()
        if k in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1 / ZOOM_STEP)
        elif k in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom(ZOOM_STEP)
        elif k == Qt.Key.Key_Left:
            self.pan(-PAN_STEP)
        elif k == Qt.Key.Key_Right:
            self.pan(PAN_STEP)
        elif k == Qt.Key.Key_Up:
            self.pan(rows=-1)
        elif k == Qt.Key.Key_Down:
            self.pan(rows=1)
        elif k == Qt.Key.Key_Home:
            self.zoom_to_fit()
        else:
            return False
        return True

    # ---- looks ----------------------------------------------------------------------------------

    def _apply_palette(self) -> None:
        """Chart background and axis ink from the widget palette (light or dark theme)."""
        pal = self.palette()
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        ink = pal.color(QPalette.ColorRole.Text)
        base = pal.color(QPalette.ColorRole.Base)
        if self.item is not None:
            self.item.set_grid(self.plot.getPlotItem().getAxis("bottom"), _mix(base, ink, 0.22), _mix(base, ink, 0.09))
            self.item.set_ink(ink)
        for axis in (self.plot.getPlotItem().getAxis("left"), self.plot.getPlotItem().getAxis("bottom"),
                     self.plot.queue.getAxis("left")):
            axis.setPen(ink)
            axis.setTextPen(ink)

    def changeEvent(self, ev: QEvent) -> None:
        """Follow palette changes (light/dark theme)."""
        if ev.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(ev)

    def resizeEvent(self, ev: QResizeEvent) -> None:
        """Re-fit on resize until the user has moved the view."""
        super().resizeEvent(ev)
        if self._fitted and self._auto_fit:
            self.zoom_to_fit()
        elif self._fitted:
            self._update_limits()
