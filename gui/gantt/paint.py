"""Turning a :class:`~procviz.gui.gantt.model.Frame` into a few ``QPainter.drawRects`` calls.

Rectangles are grouped by colour and written into one float64 ``(n, 4)`` array per colour,
laid out exactly like an array of ``QRectF`` (x, y, w, h). PySide6 (>= 6.4.3) accepts a pointer to
such an array plus a count in ``drawRects``, so a colour costs one call and no Python object per
rectangle (the trick pyqtgraph's BarGraphItem uses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shiboken6
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen

from procviz.engine.events import TaskState, WorkerState
from procviz.gui import colors
from procviz.gui.gantt import layout
from procviz.gui.gantt.merge import Rects
from procviz.gui.gantt.model import RANK_STATES, Frame
from procviz.gui.gantt.strip import STACK, StripFrame, StripImage


@dataclass(frozen=True, slots=True)
class Batch:
    """Rectangles of one colour: brush, optional outline, and the (n, 4) x/y/w/h array."""

    brush: QBrush
    pen: QPen | None
    xywh: np.ndarray


def draw_rects(painter: QPainter, xywh: np.ndarray) -> None:
    """Draw an (n, 4) float64 C-contiguous array of x, y, w, h as rectangles in one call."""
    n = len(xywh)
    if n == 0:
        return
    if xywh.dtype != np.float64 or not xywh.flags.c_contiguous or xywh.shape[1] != 4:
        raise ValueError("xywh must be a C-contiguous (n, 4) float64 array")
    # The array stays referenced (by the caller) for the whole call, so the pointer stays valid.
    painter.drawRects(shiboken6.wrapInstance(xywh.ctypes.data, QRectF), n)  # type: ignore[call-overload]


def draw_lines(painter: QPainter, lines: np.ndarray) -> None:
    """Draw an (n, 4) float64 C-contiguous array of x1, y1, x2, y2 as lines in one call."""
    n = len(lines)
    if n == 0:
        return
    if lines.dtype != np.float64 or not lines.flags.c_contiguous or lines.shape[1] != 4:
        raise ValueError("lines must be a C-contiguous (n, 4) float64 array")
    painter.drawLines(shiboken6.wrapInstance(lines.ctypes.data, QLineF), n)  # type: ignore[call-overload]


def _task_style(code: int, shade: int) -> tuple[QBrush, QPen | None]:
    state = RANK_STATES[code]
    color = colors.DONE_ALT_COLOR if state == TaskState.DONE and shade else colors.TASK_STATE_COLORS[state]
    pen = None
    if state == TaskState.FAILED:
        pen = QPen(QColor(colors.FAILED_OUTLINE_COLOR), 1.5)
        pen.setCosmetic(True)  # 1.5 screen pixels whatever the zoom
    return QBrush(QColor(color)), pen


def _worker_style(code: int, shade: int) -> tuple[QBrush, QPen | None]:
    return QBrush(QColor(colors.WORKER_STATE_COLORS[WorkerState(code)])), None


def _span_style(code: int, shade: int) -> tuple[QBrush, QPen | None]:
    return QBrush(QColor(colors.SPAN_COLOR)), None


def batches_of(rects: Rects, top: float, height: float, style: object) -> list[Batch]:
    """Group ``rects`` by (code, shade) into one Batch each, lowest code first (drawn first)."""
    n = len(rects)
    if n == 0:
        return []
    combo = rects.code * np.uint8(2) + rects.shade  # < 256 colours: a uint8 stable sort is a radix sort
    order = np.argsort(combo, kind="stable")
    combo = combo[order]
    cuts = np.concatenate(([0], np.flatnonzero(combo[1:] != combo[:-1]) + 1, [n]))
    xywh = np.empty((n, 4), np.float64)
    xywh[:, 0] = rects.x0[order]
    xywh[:, 1] = rects.lane[order] + top
    xywh[:, 2] = rects.x1[order] - rects.x0[order]
    xywh[:, 3] = height
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        brush, pen = style(int(combo[a]) // 2, int(combo[a]) % 2)  # type: ignore[operator]
        out.append(Batch(brush, pen, xywh[a:b]))  # a row slice of a C array stays C-contiguous
    return out


def strip_batches(strip: StripFrame) -> list[Batch]:
    """The state strip's stacked shares: one batch per worker state."""
    return [Batch(_worker_style(int(state), 0)[0], None, xywh) for state, xywh in strip.xywh.items() if len(xywh)]


@dataclass(frozen=True, slots=True)
class Picture:
    """An image to draw over a data rectangle (it references the pixels it was made from)."""

    target: QRectF
    image: QImage
    codes: np.ndarray  # keeps the pixels alive: the image does not copy them


def _strip_colours() -> list[int]:
    return [0] + [QColor(colors.WORKER_STATE_COLORS[state]).rgba() for state in STACK]


def strip_pictures(images: tuple[StripImage, ...]) -> list[Picture]:
    """The state strip's per-lane pictures as indexed images over their data rectangles."""
    table = _strip_colours()
    out = []
    for im in images:
        rows, cols = im.codes.shape
        image = QImage(im.codes.data, cols, rows, cols, QImage.Format.Format_Indexed8)
        image.setColorTable(table)
        out.append(Picture(QRectF(im.x, im.y, im.w, im.h), image, im.codes))
    return out


def draw_pictures(painter: QPainter, pictures: list[Picture]) -> None:
    """Draw each picture stretched over its rectangle, nearest pixel (crisp columns)."""
    if not pictures:
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    for picture in pictures:
        painter.drawImage(picture.target, picture.image)
    painter.restore()


# Cancelled, timeout and failed bars are at least this many pixels wide on screen.
NOTABLE_MIN_PX = 3.0
# A task bar at least this wide ends one pixel early, so back-to-back tasks of one worker (the
# tasks of a Pool chunk) read as separate bars; narrower bars merge as before.
BOUNDARY_MIN_PX = 4.0


def task_bars(rects: Rects, px: float) -> Rects:
    """Task-bar rectangles as painted (screen and exports): notable ones widened, none narrower
    than a pixel, boundaries cut."""
    return with_boundaries(at_least_a_pixel(widen_notable(rects, px), px), px)


def at_least_a_pixel(rects: Rects, px: float) -> Rects:
    """Bars narrower than a pixel made a pixel wide from their start: with antialiasing off a
    rectangle that covers no pixel's centre is not drawn at all, and a lane of 5 µs tasks beside
    two (widened) failures looked as if only the failures had run."""
    thin = rects.x1 - rects.x0 < px
    if not np.any(thin):
        return rects
    return Rects(rects.x0, np.where(thin, rects.x0 + px, rects.x1), rects.lane, rects.code, rects.shade, rects.key)


def widen_notable(rects: Rects, px: float) -> Rects:
    """Cancelled, timeout and failed bars widened (about their centre) to NOTABLE_MIN_PX pixels,
    so a 50 µs failure is not a lost sliver."""
    width = NOTABLE_MIN_PX * px
    thin = (rects.code >= RANK_STATES.index(TaskState.CANCELLED)) & (rects.x1 - rects.x0 < width)
    if not np.any(thin):
        return rects
    mid = (rects.x0 + rects.x1) / 2
    return Rects(np.where(thin, mid - width / 2, rects.x0), np.where(thin, mid + width / 2, rects.x1),
                 rects.lane, rects.code, rects.shade, rects.key)


def with_boundaries(rects: Rects, px: float) -> Rects:
    """``rects`` with a one-pixel gap at the end of every single task bar wide enough to spare it.

    Only rectangles that stand for one task (``key >= 0``) get the gap: a merged blur has no
    inner edges to show. With antialiasing off a gap of exactly one pixel covers exactly one
    pixel column, so the boundary is always visible and never wider.
    """
    if len(rects) == 0:
        return rects
    wide = (rects.key >= 0) & (rects.x1 - rects.x0 >= BOUNDARY_MIN_PX * px)
    return Rects(rects.x0, np.where(wide, rects.x1 - px, rects.x1), rects.lane, rects.code, rects.shade,
                 rects.key)


def frame_batches(frame: Frame, px: float) -> list[Batch]:
    """Everything of a frame in painting order: state strip, lifecycle, spans, then task bars."""
    strip = (strip_batches(frame.strip) if frame.strip is not None
             else batches_of(frame.intervals, layout.STRIP_TOP, layout.STRIP_HEIGHT, _worker_style))
    return (strip
            + batches_of(frame.lifecycle, layout.STRIP_TOP, layout.STRIP_HEIGHT, _worker_style)
            + batches_of(frame.spans, layout.SPAN_TOP, layout.SPAN_HEIGHT, _span_style)
            + batches_of(task_bars(frame.tasks, px), layout.BAR_TOP, layout.BAR_HEIGHT, _task_style))


def draw_batches(painter: QPainter, batches: list[Batch]) -> None:
    """Paint batches with antialiasing off (crisp pixel columns, and much faster)."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    for batch in batches:
        painter.setBrush(batch.brush)
        if batch.pen is None:
            painter.setPen(Qt.PenStyle.NoPen)
        else:
            painter.setPen(batch.pen)
        draw_rects(painter, batch.xywh)
    painter.restore()
