"""What the chart paints over the bars: task labels, the selected bar, and search matches.

The bars themselves come from the merged frame (:mod:`procviz.gui.gantt.paint`); this layer only
adds what makes single tasks readable and findable:

* a label inside every single-task bar wide enough for its text (the task id, or
  ``function #id`` for a function workload), in black or white, whichever contrasts with the bar;
* an outline around the selected task's bar (from the timeline's own columns, so it is drawn even
  where that task is merged into a blur);
* a dashed outline around each search match in view (capped, so a match on every one of a million
  tasks costs one ``drawRects`` of at most :data:`MAX_OUTLINES` rectangles).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline
from procviz.gui import colors
from procviz.gui.gantt import layout
from procviz.gui.gantt.merge import Rects
from procviz.gui.gantt.model import RANK_STATES, GanttModel
from procviz.gui.gantt.paint import draw_rects

MIN_LABEL_PX = 14.0  # narrower bars get no label (not even a digit fits with padding)
MAX_LABELS = 600  # more labels than this in one view are unreadable anyway
MAX_OUTLINES = 5000
LABEL_PAD_PX = 3.0


def function_name(timeline: Timeline) -> str:
    """The task function's short name for a function workload ("square"), else ""."""
    if timeline.run is None:
        return ""
    workload = timeline.run.config.get("workload") if isinstance(timeline.run.config, dict) else None
    spec = workload.get("function", "") if isinstance(workload, dict) else ""
    return str(spec).rpartition(":")[2].rpartition(".")[2] if spec else ""


def label_for(task: int, fn: str, fits: Callable[[str], bool]) -> str:
    """The longest label of ``task`` that ``fits``: ``function #id``, else the id, else ""."""
    return next((text for text in ((f"{fn} #{task}" if fn else ""), str(task)) if text and fits(text)), "")


def ink_for(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill`` (WCAG relative luminance)."""
    return QColor("black") if relative_luminance(fill) > 0.30 else QColor("white")


def relative_luminance(c: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour (0 black .. 1 white)."""
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 .. 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def bar_fill(code: int, shade: int) -> QColor:
    """The colour a task bar of merge ``code`` and chunk ``shade`` is painted in."""
    state = RANK_STATES[code]
    if state == TaskState.DONE and shade:
        return QColor(colors.DONE_ALT_COLOR)
    return QColor(colors.TASK_STATE_COLORS[state])


def task_rects(model: GanttModel, ids: np.ndarray, vx0: float, vx1: float, lanes: range) -> np.ndarray:
    """x/y/w/h (data units, bar band) of the bars of tasks ``ids`` that are in the view."""
    tl = model.timeline
    ids = ids[(tl.start_ns[ids] >= 0) & (tl.lane[ids] >= lanes.start) & (tl.lane[ids] < lanes.stop)]
    if len(ids) == 0:
        return np.zeros((0, 4), np.float64)
    x0 = np.asarray(model.x_of(tl.start_ns[ids]), np.float64)
    running = tl.state[ids] < TaskState.DONE
    x1 = np.where(running | (tl.end_ns[ids] < 0), max(model.now_x, 0.0),
                  np.asarray(model.x_of(np.maximum(tl.end_ns[ids], 0)), np.float64))
    x1 = np.maximum(x1, x0)
    keep = (x1 >= vx0) & (x0 <= vx1)
    out = np.empty((int(keep.sum()), 4), np.float64)
    out[:, 0] = x0[keep]
    out[:, 1] = tl.lane[ids][keep] + layout.BAR_TOP
    out[:, 2] = x1[keep] - x0[keep]
    out[:, 3] = layout.BAR_HEIGHT
    return out[:MAX_OUTLINES]


def paint_outlines(p: QPainter, xywh: np.ndarray, color: QColor, width_px: float, dashed: bool, px: float) -> None:
    """Outline rectangles (at least ``2 * width_px`` pixels wide, so a sliver is still framed)."""
    if len(xywh) == 0:
        return
    xywh = np.ascontiguousarray(xywh)
    thin = xywh[:, 2] < 2 * width_px * px
    xywh[thin, 0] -= (2 * width_px * px - xywh[thin, 2]) / 2
    xywh[thin, 2] = 2 * width_px * px
    pen = QPen(color, width_px, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    pen.setCosmetic(True)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    draw_rects(p, xywh)
    p.restore()


def paint_labels(p: QPainter, tasks: Rects, fn: str, font: QFont) -> int:
    """Write each single-task bar's label inside it where it fits; returns how many were drawn."""
    single = np.flatnonzero(tasks.key >= 0)
    if len(single) == 0:
        return 0
    t = p.transform()
    sx, sy = t.m11(), t.m22()
    dx0 = tasks.x0[single] * sx + t.m31()
    dx1 = tasks.x1[single] * sx + t.m31()
    wide = np.flatnonzero(dx1 - dx0 >= MIN_LABEL_PX)[:MAX_LABELS]
    if len(wide) == 0:
        return 0
    fm = QFontMetrics(font)
    bar_h = layout.BAR_HEIGHT * abs(sy)
    if bar_h < fm.height() * 0.8:
        return 0
    drawn = 0
    p.save()
    p.resetTransform()
    p.setFont(font)
    for i in wide:
        k = single[i]
        task = int(tasks.key[k])
        x0, x1 = float(dx0[i]), float(dx1[i])
        room = x1 - x0 - 2 * LABEL_PAD_PX

        def fits(text: str, room: float = room) -> bool:
            return fm.horizontalAdvance(text) <= room

        text = label_for(task, fn, fits)
        if not text:
            continue
        ya = (float(tasks.lane[k]) + layout.BAR_TOP) * sy + t.m32()
        y = min(ya, ya + layout.BAR_HEIGHT * sy)  # the top on screen, whichever way y runs
        p.setPen(ink_for(bar_fill(int(tasks.code[k]), int(tasks.shade[k]))))
        p.drawText(QRectF(x0 + LABEL_PAD_PX, y, room, bar_h),
                   int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        drawn += 1
    p.restore()
    return drawn
