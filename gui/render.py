"""Pictures of a timeline to share, written to PNG or SVG from one layout.

:func:`procviz.gui.export_picture.build_picture` lays the picture out as plain shapes in pixels
(title, configuration, metrics, legend, labelled lanes, time axis); here those shapes are written
as a PNG (painted with QPainter) or as an SVG (written directly, as ``<rect>``, ``<line>`` and
``<text>`` in user units: no transforms, no ``vector-effect``, no embedded image, ``sans-serif``
fonts, a size in px), so both files show the same lanes and bars in the same places and any SVG
renderer agrees with the PNG.

Works with no display: if no QApplication exists one is created, on the offscreen platform when
no display server is reachable (text measuring needs one).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import cast
from xml.sax.saxutils import escape

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QGuiApplication, QImage, QPainter, QPen
from PySide6.QtWidgets import QApplication

from procviz.engine.file_names import IMAGE_FORMATS, IMAGE_SIZE, IMAGE_SIZES
from procviz.engine.formats.fileio import atomic_output
from procviz.engine.timeline import Timeline
from procviz.gui.export_picture import FONT_FAMILY, Line, Picture, RectGroup, build_picture, font
from procviz.gui.gantt.paint import draw_rects

FORMATS = IMAGE_FORMATS
MIN_SIZE, MAX_SIZE = IMAGE_SIZES


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
    return cast(QGuiApplication, app)  # instance() is typed as QCoreApplication


def render_timeline(timeline: Timeline, path: str | Path, width: int = IMAGE_SIZE[0], height: int = IMAGE_SIZE[1],
                    fmt: str | None = None, title: str = "") -> Picture:
    """Write the picture of ``timeline`` to ``path`` as PNG or SVG; returns its layout.

    The format comes from ``fmt`` or else the file extension; anything but png/svg, or a size
    outside 100..20000 pixels, raises ValueError before anything is written.
    """
    path = Path(path)
    kind = _format(path, fmt)
    width, height = _check_size("width", width), _check_size("height", height)
    _ensure_app()
    picture = build_picture(timeline, width, height, title or _title_for(path))
    if kind == "png":
        write_png(picture, path)
    else:
        write_svg(picture, path)
    return picture


def _title_for(path: Path) -> str:
    name = path.name
    for suffix in (".png", ".svg"):
        name = name.removesuffix(suffix)
    return f"procviz timeline · {name}"


# ---- PNG ----------------------------------------------------------------------------------------

def paint_picture(picture: Picture, painter: QPainter) -> None:
    """Paint every shape of ``picture`` (pixel coordinates) with ``painter``."""
    for shape in picture.shapes:
        if isinstance(shape, RectGroup):
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setBrush(QColor(shape.fill))
            if shape.stroke:
                painter.setPen(QPen(QColor(shape.stroke), shape.stroke_width))
            else:
                painter.setPen(Qt.PenStyle.NoPen)
            draw_rects(painter, shape.xywh)
        elif isinstance(shape, Line):
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(QColor(shape.color), shape.width))
            painter.drawLine(QPointF(shape.x1, shape.y1), QPointF(shape.x2, shape.y2))
        else:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            f = font(shape.size, shape.bold)
            painter.setFont(f)
            painter.setPen(QColor(shape.color))
            x = shape.x
            if shape.anchor != "start":
                w = QFontMetricsF(f).horizontalAdvance(shape.text)
                x -= w if shape.anchor == "end" else w / 2
            painter.drawText(QPointF(x, shape.y), shape.text)


def png_bytes(picture: Picture) -> bytes:
    """``picture`` as the bytes of a PNG of its size."""
    image = QImage(picture.width, picture.height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        paint_picture(picture, painter)
    finally:
        painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # the stubs say bytes; PySide6 wants str
        raise ValueError("the picture could not be encoded as PNG")
    buffer.close()
    return bytes(data.data())


def write_png(picture: Picture, path: Path) -> None:
    """``picture`` as a PNG file, written as every file of procviz is (a temporary renamed over the
    target once complete: :func:`~procviz.engine.formats.fileio.atomic_output`). QImage.save to a
    path wrote in place and missed a failed flush: a full disk left a cut PNG and exit code 0."""
    data = png_bytes(picture)
    with atomic_output(path) as out:
        out.write(data)


# ---- SVG ----------------------------------------------------------------------------------------

# Characters XML 1.0 does not allow in a document, even escaped (a lane or function name read
# from a hand-edited file may hold them): shown as U+FFFD, so the SVG stays well-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` escaped for an SVG element's content."""
    return escape(_NOT_XML.sub("\ufffd", text))


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def svg_text(picture: Picture) -> str:
    """``picture`` as an SVG document (plain shapes in user units = pixels)."""
    w, h = picture.width, picture.height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}px" height="{h}px" viewBox="0 0 {w} {h}" '
        f'font-family="{FONT_FAMILY}">',
        f"<title>{_xml_text(picture.title)}</title>",
        "<desc>Gantt chart of a procviz run: a bar per task on the lane of the worker that ran it, "
        "and under it the worker's measured OS state</desc>",
    ]
    for shape in picture.shapes:
        if isinstance(shape, RectGroup):
            stroke = (f' stroke="{shape.stroke}" stroke-width="{_num(shape.stroke_width)}"'
                      if shape.stroke else "")
            # crispEdges: rectangles that touch show no hairline seam (the PNG is painted aliased too).
            out.append(f'<g fill="{shape.fill}"{stroke} shape-rendering="crispEdges">')
            out.extend(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(rw)}" height="{_num(rh)}"/>'
                       for x, y, rw, rh in shape.xywh.tolist())
            out.append("</g>")
        elif isinstance(shape, Line):
            out.append(f'<line x1="{_num(shape.x1)}" y1="{_num(shape.y1)}" x2="{_num(shape.x2)}" '
                       f'y2="{_num(shape.y2)}" stroke="{shape.color}" stroke-width="{_num(shape.width)}"/>')
        else:
            anchor = f' text-anchor="{shape.anchor}"' if shape.anchor != "start" else ""
            weight = ' font-weight="bold"' if shape.bold else ""
            out.append(f'<text x="{_num(shape.x)}" y="{_num(shape.y)}" font-size="{_num(shape.size)}"'
                       f'{weight}{anchor} fill="{shape.color}">{_xml_text(shape.text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(picture: Picture, path: Path) -> None:
    """``picture`` as an SVG file (written as :func:`write_png` writes)."""
    data = svg_text(picture).encode("utf-8")
    with atomic_output(path) as out:
        out.write(data)
