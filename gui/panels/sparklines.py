"""Per-worker CPU% and memory (RSS) sparklines from the sampler's resource samples.

One widget paints every worker's row with QPainter (no plot widget per worker, which would not
scale to hundreds of workers). Samples are grouped by lane with one stable argsort when they
change, at most a few times a second, and each line is reduced to about one point per pixel
(the maximum of each pixel's samples, so short CPU spikes stay visible).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QScrollArea, QSizePolicy, QToolTip, QWidget

from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.units import size

ROW_H = 38
LABEL_W = 120
VALUE_W = 78
REFRESH_MS = 250


def reduce_max(t: np.ndarray, v: np.ndarray, t_lo: float, t_hi: float,
               width: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (x in 0..1, value) with at most one per pixel column: each column's maximum."""
    if len(t) == 0 or t_hi <= t_lo:
        return np.zeros(0), np.zeros(0)
    x = (t - t_lo) / (t_hi - t_lo)
    if len(t) <= 2 * width:
        return x, v
    bins = np.clip((x * width).astype(np.int64), 0, width - 1)
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    return (bins[starts] + 0.5) / width, np.maximum.reduceat(v, starts)


class SparklineCanvas(QWidget):
    """Paints one row per worker: name and PID, a CPU% line and an RSS line with current values."""

    def __init__(self, timeline: Timeline, cpu_color: QColor, rss_color: QColor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.cpu_color = cpu_color
        self.rss_color = rss_color
        self._groups: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._grouped_rows = -1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def lanes_shown(self) -> list[int]:
        """Lanes that get a row: workers (the parent's callback lane has no process of its own)."""
        return [info.index for info in self.timeline.lanes if info.kind != "parent"]

    def sizeHint(self) -> QSize:
        """Tall enough for every worker row."""
        return QSize(360, max(1, len(self.lanes_shown())) * ROW_H + 4)

    def regroup(self) -> None:
        """Split the samples by lane (once per change of the sample count)."""
        data = self.timeline.resources.data
        if len(data) == self._grouped_rows:
            return
        self._grouped_rows = len(data)
        order = np.argsort(data["lane"], kind="stable")
        lanes = data["lane"][order]
        self._groups = {}
        for lane in np.unique(lanes):
            lo, hi = np.searchsorted(lanes, lane, "left"), np.searchsorted(lanes, lane, "right")
            rows = data[order[lo:hi]]
            self._groups[int(lane)] = (rows["t_ns"].astype(np.float64), rows["cpu_pct"].astype(np.float64),
                                       rows["rss"].astype(np.float64))
        self.setFixedHeight(self.sizeHint().height())

    def reset(self) -> None:
        """Forget the grouping (a new run or file)."""
        self._grouped_rows = -1
        self._groups = {}
        self.setFixedHeight(self.sizeHint().height())

    def event(self, ev: QEvent) -> bool:
        """A tooltip for the worker row under the mouse: who it is, how it ended, its peaks."""
        if ev.type() == QEvent.Type.ToolTip:
            lanes = self.lanes_shown()
            row = int((ev.pos().y() - 2) // ROW_H)  # type: ignore[attr-defined]
            if 0 <= row < len(lanes):
                QToolTip.showText(ev.globalPos(), self.describe(lanes[row]), self)  # type: ignore[attr-defined]
            else:
                QToolTip.hideText()
            return True
        return super().event(ev)

    def describe(self, lane: int) -> str:
        """A few lines about a worker lane for its tooltip."""
        info = self.timeline.lanes[lane]
        lines = [f"{info.name or 'lane ' + str(lane)}, pid {info.pid} ({info.kind})"]
        if info.exit_ns >= 0:
            lines.append(f"{info.exit_reason or 'exited'}"
                         + (f" (exit code {info.exit_code})" if info.exit_code is not None else ""))
        t, cpu, rss = self._groups.get(lane, (np.zeros(0), np.zeros(0), np.zeros(0)))
        if len(cpu):
            lines.append(f"CPU: peak {cpu.max():.0f}%, mean {cpu.mean():.0f}% over {len(cpu)} samples")
            lines.append(f"memory (RSS): peak {size(rss.max())}, last {size(rss[-1])}")
        return "\n".join(lines)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the visible rows."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pal = self.palette()
        text_color = pal.color(QPalette.ColorRole.WindowText)
        grid = pal.color(QPalette.ColorRole.Mid)
        dim_color = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        lanes = self.lanes_shown()
        if not lanes:
            painter.setPen(text_color)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Worker CPU and memory appear here during a run")
            return
        tl = self.timeline
        t_lo, t_hi = float(tl.t0_ns), float(max(tl.now_ns, tl.t0_ns + 1))
        rss_max = max((float(g[2].max()) for g in self._groups.values() if len(g[2])), default=1.0) or 1.0
        w = max(10, self.width() - LABEL_W - VALUE_W - 12)
        visible = event.rect()
        fm = painter.fontMetrics()
        for row, lane in enumerate(lanes):
            top = 2 + row * ROW_H
            if top > visible.bottom() or top + ROW_H < visible.top():
                continue
            info = tl.lanes[lane]
            # An exited worker's label is dimmed; its lines stay, ending where it exited.
            painter.setPen(dim_color if info.exit_ns >= 0 else text_color)
            label_rect = QRectF(4, top, LABEL_W - 8, ROW_H / 2)
            name = fm.elidedText(info.name or f"lane {lane}", Qt.TextElideMode.ElideRight, LABEL_W - 8)
            painter.drawText(label_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            pid_rect = QRectF(4, top + ROW_H / 2, LABEL_W - 8, ROW_H / 2)
            painter.drawText(pid_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"tid {info.tid}" if info.kind == "thread" else f"pid {info.pid}")
            plot = QRectF(LABEL_W, top + 3, w, ROW_H - 8)
            painter.setPen(QPen(grid, 1))
            painter.drawLine(plot.bottomLeft(), plot.bottomRight())
            t, cpu, rss = self._groups.get(lane, (np.zeros(0), np.zeros(0), np.zeros(0)))
            cpu_top = max(100.0, float(cpu.max()) if len(cpu) else 100.0)
            self._line(painter, plot, t, rss, t_lo, t_hi, rss_max, self.rss_color, w)
            self._line(painter, plot, t, cpu, t_lo, t_hi, cpu_top, self.cpu_color, w)
            value_rect = QRectF(LABEL_W + w + 6, top, VALUE_W, ROW_H / 2)
            painter.setPen(self.cpu_color)
            painter.drawText(value_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"CPU {cpu[-1]:.0f}%" if len(cpu) else "CPU –")
            painter.setPen(self.rss_color)
            painter.drawText(value_rect.translated(0, ROW_H / 2),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             size(rss[-1]) if len(rss) else "RSS –")
        painter.end()

    @staticmethod
    def _line(painter: QPainter, plot: QRectF, t: np.ndarray, v: np.ndarray, t_lo: float, t_hi: float,
              v_max: float, color: QColor, width: int) -> None:
        x, y = reduce_max(t, v, t_lo, t_hi, int(width))
        if len(x) < 1:
            return
        px = plot.left() + np.clip(x, 0, 1) * plot.width()
        py = plot.bottom() - np.clip(y / v_max, 0, 1) * plot.height()
        path = QPainterPath(QPointF(px[0], py[0]))
        for xi, yi in zip(px[1:].tolist(), py[1:].tolist(), strict=True):
            path.lineTo(xi, yi)
        painter.setPen(QPen(color, 1.4))
        painter.drawPath(path)


class SparklinesPanel(QScrollArea):
    """The sparklines in a scroll area, refreshed from the Timeline a few times a second."""

    def __init__(self, timeline: Timeline, cpu_color: QColor, rss_color: QColor | Callable[[], QColor],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        rss = rss_color() if callable(rss_color) else rss_color
        self.canvas = SparklineCanvas(timeline, cpu_color, rss)
        self.setWidget(self.canvas)
        self.setWidgetResizable(True)
        self.setToolTip("Per worker: CPU% (upper value) and resident memory (lower value) over the run")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._unsubscribe = subscribe_while_alive(self, timeline, self._on_change)

    def _on_change(self, change: TimelineChange) -> None:
        if change.reset:
            self.canvas.reset()
        if change.reset or change.status:
            self._timer.stop()
            self.refresh()
        elif (change.resources or change.lanes) and not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Regroup the samples and repaint."""
        self.canvas.regroup()
        self.canvas.setFixedHeight(self.canvas.sizeHint().height())
        self.canvas.update()
