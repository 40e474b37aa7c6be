"""The machine lane: how busy the run's CPUs were over the run, own processes and others stacked.

Drawn from the Timeline's ``machine`` rows (engine/machine.py): per window, a column whose lower
part is the run's own processes' share of the CPUs and whose upper part is other programs'. When
workers show ready time under a tall "other" column, the CPUs were busy with something else.
Painted with one ``drawRects`` per colour.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from procviz.engine.timeline import Timeline
from procviz.gui.gantt.paint import draw_rects

OWN_COLOR = "#2CA05A"  # the running green of the strip: the run on a CPU
OTHER_COLOR = "#C2452D"  # brick red: CPU taken by other programs


class MachineLane(QWidget):
    """A small stacked-column chart of the machine rows of a Timeline."""

    HELP = ("The run's CPUs over time: lower (green) the run's own processes' share, upper (red) other "
            "programs' share (/proc/stat busy time less the run's own). Ready time under a tall red "
            "column is caused by other programs, not by the run.")

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.setMinimumHeight(36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        """Wide and short."""
        return QSize(240, 40)

    def columns(self, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
        """(own, other) rectangles as (n, 4) x/y/w/h arrays in widget pixels."""
        rows = self.timeline.machine.data
        if not len(rows) or width <= 0:
            return np.zeros((0, 4)), np.zeros((0, 4))
        t0, t1 = float(rows["start_ns"].min()), float(rows["end_ns"].max())
        scale = width / max(t1 - t0, 1.0)
        x0 = (rows["start_ns"] - t0) * scale
        w = np.maximum((rows["end_ns"] - rows["start_ns"]) * scale, 1.0)
        own = np.clip(rows["own"].astype(np.float64), 0, 1)
        other = np.clip(rows["busy"] - rows["own"], 0, 1 - own)
        out = []
        for below, share in ((np.zeros(len(rows)), own), (own, other)):
            xywh = np.empty((len(rows), 4))
            xywh[:, 0], xywh[:, 2] = x0, w
            xywh[:, 3] = share * height
            xywh[:, 1] = height - (below + share) * height
            out.append(np.ascontiguousarray(xywh[share > 0]))
        return out[0], out[1]

    def paintEvent(self, event: QPaintEvent) -> None:
        """Frame, then own and other columns."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setPen(QColor(127, 127, 127, 90))
        p.drawRect(QRectF(0, 0, self.width() - 1, self.height() - 1))
        p.setPen(Qt.PenStyle.NoPen)
        own, other = self.columns(float(self.width()), float(self.height()))
        for color, xywh in ((OWN_COLOR, own), (OTHER_COLOR, other)):
            p.setBrush(QColor(color))
            draw_rects(p, xywh)
        p.end()
