"""A ViewBox that behaves like a Gantt chart: the wheel zooms time, rows keep their height."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal


class GanttViewBox(pg.ViewBox):
    """Wheel: zoom the time axis around the cursor (Shift+wheel scrolls rows); drag: pan.

    ``panned`` tells the chart that the user moved the view by hand (so follow mode stops).
    """

    panned = Signal()

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.invertY(True)  # lane 0 at the top

    def wheelEvent(self, ev: object, axis: int | None = None) -> None:
        """Zoom time (or the axis the wheel is over); Shift scrolls rows by one."""
        if axis is None and ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:  # type: ignore[attr-defined]
            rows = -1.0 if ev.delta() > 0 else 1.0  # type: ignore[attr-defined]
            self.translateBy(y=rows)
            ev.accept()  # type: ignore[attr-defined]
            self.panned.emit()
            return
        super().wheelEvent(ev, axis=0 if axis is None else axis)

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:
        """Pan as usual, then report it."""
        super().mouseDragEvent(ev, axis)
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):  # type: ignore[attr-defined]
            self.panned.emit()
