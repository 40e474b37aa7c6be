"""The toolbar's Run and Stop icons, drawn in colour so that they read on light and dark themes alike.

The style's own media icons (``QStyle.SP_MediaPlay`` / ``SP_MediaStop``) are dark grey pixmaps
whatever the palette: on the dark theme they were nearly invisible. A green triangle and a red
square keep their meaning and their contrast on both.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

SIZE = 32  # drawn at this size; Qt scales it to the toolbar's
RUN_COLOR, STOP_COLOR, OUTLINE = "#2e9e44", "#d23f31", "#1b1b1b80"


def _icon(draw: str) -> QIcon:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(OUTLINE), 1.5))
        if draw == "run":
            painter.setBrush(QColor(RUN_COLOR))
            painter.drawPolygon(QPolygonF([QPointF(8, 5), QPointF(27, 16), QPointF(8, 27)]))
        else:
            painter.setBrush(QColor(STOP_COLOR))
            painter.drawRoundedRect(QRectF(7, 7, 18, 18), 2, 2)
    finally:
        painter.end()
    return QIcon(pixmap)


def run_icon() -> QIcon:
    """A green triangle pointing right (needs a QGuiApplication)."""
    return _icon("run")


def stop_icon() -> QIcon:
    """A red square (needs a QGuiApplication)."""
    return _icon("stop")
