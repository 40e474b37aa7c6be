"""Offscreen pictures of a timeline: the Gantt chart as shown, written to PNG or SVG.

The picture is the real :class:`~procviz.gui.gantt.GanttWidget` (legend, lane labels, bars, state strip,
time axis), laid out at the requested size and painted into a QImage or a QSvgGenerator. So the
export goes through the same culling and pixel merging as the screen, which is what keeps an SVG
of a million tasks down to a few thousand rectangles.

Works with no display: if no QApplication exists one is created, on the offscreen platform when
no display server is reachable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from procviz.engine.timeline import Timeline
from procviz.gui.gantt import GanttWidget

FORMATS = ("png", "svg")
MIN_SIZE, MAX_SIZE = 100, 20000


def _format(path: Path, fmt: str | None) -> str:
    """"png" or "svg" from ``fmt`` or the extension; ValueError for anything else."""
    name = (fmt or path.suffix.lstrip(".")).lower()
    if name not in FORMATS:
        given = f"format {fmt!r}" if fmt else f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise ValueError(f"cannot render a timeline as {given}: use one of {', '.join(FORMATS)}")
    return name


def _check_size(name: str, value: object) -> int:
    """``value`` if it is a whole number of pixels in range; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_SIZE <= value <= MAX_SIZE:
        raise ValueError(f"{name} must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {value!r}")
    return value


def _ensure_app() -> QGuiApplication:
    """The running QApplication, or a new one (offscreen when there is no display to talk to)."""
    app = QApplication.instance()
    if app is None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication([])
    return app  # type: ignore[return-value]  # instance() is typed as QCoreApplication


def _light_palette() -> QPalette:
    """Exports are black on white whatever the desktop theme."""
    pal = QPalette()
    white, black = QColor("white"), QColor("black")
    for role, color in ((QPalette.ColorRole.Window, white), (QPalette.ColorRole.Base, white),
                        (QPalette.ColorRole.WindowText, black), (QPalette.ColorRole.Text, black)):
        pal.setColor(role, color)
    return pal


def render_timeline(timeline: Timeline, path: str | Path, width: int = 1600, height: int = 900,
                    fmt: str | None = None) -> None:
    """Write the chart of ``timeline`` (an engine Timeline) to ``path`` as PNG or SVG.

    The format comes from ``fmt`` or else the file extension; anything but png/svg, or a size
    outside 100..20000 pixels, raises ValueError before anything is written.
    """
    path = Path(path)
    kind = _format(path, fmt)
    width, height = _check_size("width", width), _check_size("height", height)
    _ensure_app()
    widget = GanttWidget(timeline)
    try:
        widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        widget.setPalette(_light_palette())
        widget.resize(width, height)
        widget.show()
        # Deliver the resize and layout events (only posted events: no timers or input run here,
        # so exporting from inside the running app does not re-enter it).
        QApplication.sendPostedEvents()
        widget.zoom_to_fit()
        QApplication.sendPostedEvents()
        if kind == "png":
            _write_png(widget, path, width, height)
        else:
            _write_svg(widget, path, width, height)
    finally:
        widget.detach()
        widget.hide()
        widget.deleteLater()


def _write_png(widget: QWidget, path: Path, width: int, height: int) -> None:
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    widget.render(image)
    if not image.save(str(path), "PNG"):  # type: ignore[call-overload]  # the stubs say bytes; PySide6 wants str
        raise OSError(f"could not write {path}")


def _write_svg(widget: QWidget, path: Path, width: int, height: int) -> None:
    from PySide6.QtSvg import QSvgGenerator

    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(width, height))
    gen.setViewBox(QRect(0, 0, width, height))
    gen.setTitle("procviz timeline")
    gen.setDescription("Gantt chart of a procviz run: task bars and worker states per lane")
    painter = QPainter()
    if not painter.begin(gen):
        raise OSError(f"could not write {path}")
    try:
        widget.render(painter, QPoint(0, 0))
    finally:
        painter.end()
