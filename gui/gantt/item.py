"""The one graphics item that draws every bar, strip and span of the chart.

Never one item per bar: each paint asks the model for the merged rectangles of the visible x
range and rows at the current pixel size, and paints them with a few ``drawRects`` calls (see
:mod:`procviz.gui.gantt.paint`). The result is cached on (model version, view, pixel size), so repaints
that change nothing (hover, tooltips, other items) only replay the arrays. The bounding rect is
the data extent, recomputed only when the model changes.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QToolTip

from procviz.gui.gantt import layout, overlay, tooltip
from procviz.gui.gantt.model import Frame, GanttModel
from procviz.gui.gantt.paint import (
    Batch,
    Picture,
    draw_batches,
    draw_lines,
    draw_pictures,
    draw_rects,
    frame_batches,
    strip_pictures,
)

HIT_TOLERANCE_PX = 3.0  # a bar narrower than a pixel is still clickable within this distance
ZEBRA = QColor(127, 127, 127, 22)  # every other row, readable on light and dark backgrounds


class TimelineItem(pg.GraphicsObject):
    """Paints a :class:`GanttModel`; emits the task under a click or hover."""

    taskClicked = Signal(int)
    taskHovered = Signal(int)  # -1 when the mouse leaves a bar

    def __init__(self, model: GanttModel) -> None:
        super().__init__()
        self._model = model
        self._labels: list[str] = []
        self._bounds = QRectF()
        self._cache_key: tuple | None = None
        self._frame: Frame | None = None
        self._batches: list[Batch] = []
        self._strip_images: list[Picture] = []
        self._hovered = -1
        self._grid_axis: pg.AxisItem | None = None
        self._grid_ticks: tuple[tuple, list] = ((), [])  # (view key, the axis tick levels there)
        self._grid_pens: list[QPen] = []
        self._ink = QColor("black")
        self._selected = -1
        self._matches = np.zeros(0, np.int64)
        self.labels_drawn = 0  # task labels written by the last paint (tests and curiosity)
        self.setAcceptHoverEvents(True)

    # ---- data -----------------------------------------------------------------------------------

    def set_model(self, model: GanttModel) -> None:
        """Paint another model (one built off the GUI thread for a file being opened)."""
        self._model = model
        self._cache_key = None
        self._frame = None
        self.refresh()

    def set_labels(self, labels: list[str]) -> None:
        """Row labels (for tooltips)."""
        self._labels = list(labels)

    def set_ink(self, ink: QColor) -> None:
        """The theme's text colour: the selected bar's outline and search matches are drawn in it."""
        self._ink = QColor(ink)
        self.update()

    def set_selected(self, task_id: int) -> None:
        """Outline ``task_id``'s bar (-1: none)."""
        if task_id != self._selected:
            self._selected = task_id
            self.update()

    @property
    def selected(self) -> int:
        """The task whose bar is outlined, or -1."""
        return self._selected

    def set_matches(self, ids: np.ndarray) -> None:
        """Tasks to mark as search matches (an empty array clears them)."""
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0 and len(self._matches) == 0:
            return  # nothing marked before or now (every new run clears them: no repaint for that)
        self._matches = ids
        self.update()

    def set_grid(self, axis: pg.AxisItem, major: QColor, minor: QColor) -> None:
        """Draw vertical grid lines at ``axis``'s ticks, in opaque colours behind the bars.

        (pyqtgraph's own grid is drawn by the axis with translucent pens over the whole plot,
        which costs several milliseconds a frame; opaque lines in one call cost almost nothing.)
        """
        self._grid_axis = axis
        self._grid_ticks = ((), [])
        self._grid_pens = []
        for color in (major, minor):
            pen = QPen(color, 1.0)
            pen.setCosmetic(True)
            self._grid_pens.append(pen)
        self.update()

    def _paint_grid(self, p: QPainter, vx0: float, vx1: float, y0: float, y1: float) -> None:
        vb = self.getViewBox()
        if self._grid_axis is None or vb is None or vb.width() <= 0:
            return
        key = (vx0, vx1, vb.width())
        if self._grid_ticks[0] != key:  # (the axis' tick search costs ~1 ms a paint; the view seldom moves)
            self._grid_ticks = (key, self._grid_axis.tickValues(vx0, vx1, vb.width())[:2])
        levels = self._grid_ticks[1]
        for (_, values), pen in reversed(list(zip(levels, self._grid_pens, strict=False))):
            xs = np.asarray(values, np.float64)
            lines = np.empty((len(xs), 4), np.float64)
            lines[:, 0], lines[:, 1], lines[:, 2], lines[:, 3] = xs, y0, xs, y1
            p.setPen(pen)
            draw_lines(p, lines)

    def refresh(self) -> None:
        """The model changed: update the bounds if needed and schedule a repaint."""
        lo, hi = self._model.x_extent()
        rect = QRectF(lo, 0.0, max(hi - lo, 1e-9), float(max(self._model.lane_count, 1)))
        if rect != self._bounds:
            self.prepareGeometryChange()
            self._bounds = rect
            self.informViewBoundsChanged()
        self.update()

    def boundingRect(self) -> QRectF:
        """The data extent: all rows, first to last drawn time (cached)."""
        return QRectF(self._bounds)

    # ---- the view -------------------------------------------------------------------------------

    def view_params(self, painter: QPainter | None = None) -> tuple[float, float, float, range]:
        """Visible x range (s), seconds per device pixel, and visible rows."""
        vb = self.getViewBox()
        if vb is None:
            b = self._bounds
            (vx0, vx1), (vy0, vy1) = (b.left(), b.right()), (b.top(), b.bottom())
        else:
            (vx0, vx1), (vy0, vy1) = vb.viewRange()
        px = 0.0
        if painter is not None:
            t = painter.transform()
            scale = math.hypot(t.m11(), t.m12())
            px = 1.0 / scale if scale > 0 else 0.0
        if px <= 0:
            # Outside paint: from the view box's size (pyqtgraph's pixelWidth() can lag a range
            # change until the next paint, when the view box updates its child transform).
            width = vb.width() if vb is not None else 0.0
            px = (vx1 - vx0) / width if width > 0 else (vx1 - vx0) / 1000.0
        lo = max(0, math.floor(min(vy0, vy1)))
        hi = min(self._model.lane_count, math.ceil(max(vy0, vy1)))
        if not vx1 > vx0:
            vx1 = vx0 + px
        return vx0, vx1, px, range(lo, max(lo, hi))

    def frame(self, painter: QPainter | None = None) -> Frame:
        """The rectangles this item paints for the current view (computed or from the cache)."""
        vx0, vx1, px, lanes = self.view_params(painter)
        key = (self._model.version, vx0, vx1, px, lanes.start, lanes.stop)
        if key != self._cache_key or self._frame is None:
            self._frame = self._model.frame(vx0, vx1, px, lanes, screen=True)
            self._batches = frame_batches(self._frame, px)
            self._strip_images = strip_pictures(self._frame.strip_images)
            self._cache_key = key
        return self._frame

    def visible_rect_count(self) -> int:
        """How many task-bar rectangles the current view paints (after culling and merging)."""
        return len(self.frame().tasks)

    def paint(self, p: QPainter, *args: object) -> None:
        """Grid, zebra rows, then the cached batches, then the live edge."""
        frame = self.frame(p)
        vx0, vx1, px, lanes = self.view_params(p)
        vb = self.getViewBox()
        (vy0, vy1) = vb.viewRange()[1] if vb is not None else (lanes.start, lanes.stop)
        p.save()
        self._paint_grid(p, vx0, vx1, vy0, vy1)
        p.restore()
        odd = np.array([i for i in lanes if i % 2], np.float64)
        if len(odd):
            zebra = np.empty((len(odd), 4), np.float64)
            zebra[:, 0], zebra[:, 1], zebra[:, 2], zebra[:, 3] = vx0, odd, vx1 - vx0, 1.0
            p.save()
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(ZEBRA))
            draw_rects(p, zebra)
            p.restore()
        draw_pictures(p, self._strip_images)
        draw_batches(p, self._batches)
        self._paint_overlay(p, frame, vx0, vx1, px, lanes)
        if self._model.live and len(frame.tasks) and vx0 <= self._model.now_x <= vx1:
            pen = QPen(QColor(127, 127, 127), 1.0, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            p.setPen(pen)
            p.drawLine(QPointF(self._model.now_x, lanes.start), QPointF(self._model.now_x, lanes.stop))

    def _paint_overlay(self, p: QPainter, frame: Frame, vx0: float, vx1: float, px: float, lanes: range) -> None:
        """Labels inside bars, then search matches, then the selected bar on top."""
        tl = self._model.timeline
        self.labels_drawn = overlay.paint_labels(p, frame.tasks, overlay.function_name(tl), self.scene().font()
                                                 if self.scene() is not None else QFont())
        matches = self._matches[self._matches < tl.n_tasks]
        if len(matches):
            overlay.paint_outlines(p, overlay.task_rects(self._model, matches, vx0, vx1, lanes),
                                   self._ink, 1.0, True, px)
        if 0 <= self._selected < tl.n_tasks:
            overlay.paint_outlines(p, overlay.task_rects(self._model, np.array([self._selected]), vx0, vx1, lanes),
                                   self._ink, 2.0, False, px)

    # ---- mouse ----------------------------------------------------------------------------------

    def _tolerance(self) -> float:
        return HIT_TOLERANCE_PX * self.view_params()[2]

    def task_at(self, pos: QPointF) -> int:
        """The task whose bar is under ``pos`` (item = data coordinates), or -1."""
        lane = math.floor(pos.y())
        if layout.band_at(pos.y() - lane) != "bar":
            return -1
        return self._model.task_at(pos.x(), lane, self._tolerance())

    def tooltip_at(self, pos: QPointF) -> str:
        """Rich text for the bar, span or state strip under ``pos`` ("" when nothing)."""
        lane = math.floor(pos.y())
        band = layout.band_at(pos.y() - lane)
        label = self._labels[lane] if 0 <= lane < len(self._labels) else f"lane {lane}"
        if band == "bar":
            tid = self._model.task_at(pos.x(), lane, self._tolerance())
            return tooltip.as_html(tooltip.task_tooltip_lines(self._model.timeline, tid)) if tid >= 0 else ""
        if band == "span":
            span = self._model.span_at(pos.x(), lane, self._tolerance())
            if span is None:
                return ""
            index, x0, x1 = span
            return tooltip.as_html(tooltip.span_tooltip_lines(label, self._model.timeline.span_label(index), x0, x1))
        if band == "strip":
            hit = self._model.state_at(pos.x(), lane)
            if hit is None:
                return ""
            shares = self._model.strip.tooltip_lines(label, lane, pos.x())  # exact sums (gantt/strip.py)
            return tooltip.as_html(shares or tooltip.state_tooltip_lines(label, *hit, info=self._model.lane_info(lane)))
        return ""

    def hoverEvent(self, ev: object) -> None:
        """Keep the tooltip and the hovered task up to date (pyqtgraph hover protocol)."""
        if ev.isExit():  # type: ignore[attr-defined]
            self.setToolTip("")
            self._set_hovered(-1)
            return
        pos = ev.pos()  # type: ignore[attr-defined]
        text = self.tooltip_at(pos)
        self.setToolTip(text)
        self._set_hovered(self.task_at(pos))
        if QToolTip.isVisible():
            # A visible tooltip does not follow toolTip() changes by itself.
            views = self.scene().views() if self.scene() else []
            QToolTip.showText(ev.screenPos().toPoint(), text, views[0] if views else None)  # type: ignore[attr-defined]

    def _set_hovered(self, task_id: int) -> None:
        if task_id != self._hovered:
            self._hovered = task_id
            self.taskHovered.emit(task_id)

    def mouseClickEvent(self, ev: object) -> None:
        """Left click on a bar emits taskClicked; anything else goes to the view."""
        if ev.button() == Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            tid = self.task_at(ev.pos())  # type: ignore[attr-defined]
            if tid >= 0:
                ev.accept()  # type: ignore[attr-defined]
                self.taskClicked.emit(tid)
                return
        ev.ignore()  # type: ignore[attr-defined]
