"""Every task is a bar: one far shorter than a pixel is still painted, a pixel wide."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter, QTransform  # noqa: E402

from procviz.engine.events import TaskState  # noqa: E402
from procviz.gui.gantt import layout  # noqa: E402
from procviz.gui.gantt.merge import Rects  # noqa: E402
from procviz.gui.gantt.model import RANK_STATES  # noqa: E402
from procviz.gui.gantt.paint import _task_style as task_style  # noqa: E402
from procviz.gui.gantt.paint import batches_of, draw_batches, task_bars  # noqa: E402


def bars(x0, x1, states) -> Rects:
    n = len(x0)
    codes = np.array([RANK_STATES.index(s) for s in states], np.uint8)
    return Rects(np.asarray(x0, float), np.asarray(x1, float), np.zeros(n), codes, np.zeros(n, np.uint8),
                 np.arange(n))


def painted_columns(rects: Rects, px: float, width: int = 200) -> set[int]:
    """Pixel columns of row 0's bar band that the painted bars cover (1 s of data = 1 / px pixels)."""
    image = QImage(width, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setTransform(QTransform.fromScale(1 / px, 20))  # x: seconds -> pixels, y: rows of 20 px
    draw_batches(painter, batches_of(task_bars(rects, px), layout.BAR_TOP, layout.BAR_HEIGHT, task_style))
    painter.end()
    y = int((layout.BAR_TOP + layout.BAR_HEIGHT / 2) * 20)
    return {x for x in range(width) if image.pixelColor(x, y) != QColor("white")}


def test_a_done_task_far_shorter_than_a_pixel_is_painted_a_pixel_wide() -> None:
    px = 0.01  # 10 ms a pixel; the tasks last 5 µs
    starts = [0.503, 1.003, 1.5]
    rects = bars(starts, [s + 5e-6 for s in starts], [TaskState.DONE, TaskState.DONE, TaskState.FAILED])
    columns = painted_columns(rects, px)
    for s in starts:
        assert int(s / px) in columns, (s, sorted(columns))
    shown = task_bars(rects, px)
    assert np.all(shown.x1 - shown.x0 >= px - 1e-12)
    assert np.array_equal(shown.x0[:2], rects.x0[:2])  # widened from their start


def test_bars_a_pixel_or_wider_are_left_as_they_are() -> None:
    px = 0.01
    rects = bars([0.1, 0.5], [0.11, 0.9], [TaskState.DONE, TaskState.DONE])
    shown = task_bars(rects, px)
    assert np.array_equal(shown.x0, rects.x0)
    assert shown.x1[0] == rects.x1[0]  # (one pixel: no boundary gap)
    assert shown.x1[1] == rects.x1[1] - px  # (wide: the boundary pixel)
