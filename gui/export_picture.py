"""A picture of a timeline to share: plain shapes in pixels, drawn once and written as PNG or SVG.

The export is laid out here, from the chart's own model (the same culling and pixel merging as
the screen, so a million tasks are a few thousand rectangles), as a list of plain shapes in
pixel coordinates: filled rectangles grouped by colour, lines, and text with a baseline. The PNG
writer paints those shapes with QPainter; the SVG writer writes the same shapes as ``<rect>``,
``<line>`` and ``<text>`` in user units (no transforms, no scaled groups, no ``vector-effect``,
no embedded raster, ``sans-serif`` text), so any SVG renderer draws what the PNG shows.

What the picture holds, top to bottom: a title; the run's configuration in one line; its
headline metrics; the legend; then the lanes (labels in a margin wide enough for them, zebra
rows, time grid, task bars with a boundary between back-to-back tasks and labels where they fit,
wait spans, the worker-state strip) over a time axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtGui import QColor, QFont, QFontMetricsF

from procviz.engine.events import TaskState, WorkerState
from procviz.engine.metrics import compute_metrics
from procviz.engine.specs import SCENARIO_SPECS
from procviz.engine.timeline import Timeline
from procviz.gui import colors
from procviz.gui.gantt import layout
from procviz.gui.gantt.legend import default_entries
from procviz.gui.gantt.merge import Rects
from procviz.gui.gantt.model import GanttModel
from procviz.gui.gantt.overlay import bar_fill, function_name, ink_for, label_for
from procviz.gui.gantt.paint import task_bars
from procviz.gui.gantt.tooltip import lane_labels

FONT_FAMILY = "sans-serif"  # a CSS generic family: every SVG renderer has one
INK, MUTED, GRID, ZEBRA, BACKGROUND = "#000000", "#555555", "#DDDDDD", "#F3F3F3", "#FFFFFF"
MARGIN = 16.0
TITLE_PX, TEXT_PX, SMALL_PX = 18.0, 12.0, 11.0
MAX_LABEL_PX = 260.0
# A lane label is measured on at most this many characters: far more than MAX_LABEL_PX can show
# (a hand-edited file may name a lane with a million; measuring all of it took seconds).
MAX_LABEL_CHARS = 1000
AXIS_PX = 40.0  # tick labels and the axis title under the lanes
SWATCH = 11.0
MIN_LABEL_BAR_PX = 16.0


@dataclass(frozen=True, slots=True)
class Text:
    """A line of text: ``x, y`` is the start (or middle/end, by ``anchor``) of its baseline."""

    x: float
    y: float
    text: str
    size: float = TEXT_PX
    bold: bool = False
    color: str = INK
    anchor: str = "start"  # "start", "middle" or "end"


@dataclass(frozen=True, slots=True)
class Line:
    """A straight line of ``width`` pixels."""

    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    width: float = 1.0


@dataclass(frozen=True, slots=True)
class RectGroup:
    """Rectangles of one fill (and optional outline): an (n, 4) float64 array of x, y, w, h in px."""

    fill: str
    xywh: np.ndarray
    stroke: str = ""
    stroke_width: float = 0.0


@dataclass
class Picture:
    """Plain shapes on a white page of ``width`` x ``height`` pixels, in painting order."""

    width: int
    height: int
    title: str = ""
    shapes: list[Text | Line | RectGroup] = field(default_factory=list)
    # Where the lanes are (px), for callers and tests: chart left/right, top, row height, count.
    chart: tuple[float, float, float, float, int] = (0.0, 0.0, 0.0, 0.0, 0)


def font(size: float, bold: bool = False) -> QFont:
    """The export's font at ``size`` pixels (the generic sans-serif family)."""
    f = QFont()
    f.setFamilies(["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"])
    f.setStyleHint(QFont.StyleHint.SansSerif)
    f.setPixelSize(max(1, round(size)))
    f.setBold(bold)
    return f


def text_width(text: str, size: float, bold: bool = False) -> float:
    """How wide ``text`` is in pixels (Qt's metrics; other renderers differ by a few percent)."""
    return QFontMetricsF(font(size, bold)).horizontalAdvance(text)


def elided(text: str, size: float, max_px: float) -> str:
    """``text``, or its longest beginning that fits ``max_px`` with "…" after it (at least 3 of its
    characters). A binary search: a few measurements, however long the text (cutting a character
    a pass measured the whole text each time: 28 s for a name of 30 000 characters)."""
    text = text[:MAX_LABEL_CHARS]
    metrics = QFontMetricsF(font(size))
    if metrics.horizontalAdvance(text) <= max_px or len(text) <= 3:
        return text
    lo, hi = 3, len(text) - 1  # the longest cut that fits (or the shortest allowed)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if metrics.horizontalAdvance(text[:mid] + "…") <= max_px:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def config_line(config: dict) -> str:
    """The run's configuration in one line, e.g. "pool · 4 workers · spawn · map · chunksize 5 · sleep ×40"."""
    if not isinstance(config, dict) or not config:
        return "configuration not recorded in this file"
    parts = []
    if config.get("scenario"):
        parts.append(f"scenario {config['scenario']}")
    parts.append(str(config.get("backend", "pool")))
    workers = config.get("workers")
    spec = SCENARIO_SPECS.get(config["scenario"]) if isinstance(config.get("scenario"), str) else None
    if workers and spec is not None:  # a scenario's workers are what it says they are, if anything
        if spec.workers_label:
            parts.append(f"{workers} {spec.workers_label.lower()}")
    elif workers:
        parts.append(f"{workers} worker{'s' if workers != 1 else ''}")
    for key in ("start_method", "api"):
        if config.get(key) and not config.get("scenario"):
            parts.append(str(config[key]))
    if config.get("chunksize"):
        parts.append(f"chunksize {config['chunksize']}")
    if config.get("maxtasksperchild"):
        parts.append(f"maxtasksperchild {config['maxtasksperchild']}")
    if config.get("order") and config.get("order") != "fifo":
        parts.append(f"order {config['order']}")
    raw = config.get("workload")
    workload: dict = raw if isinstance(raw, dict) else {}
    if workload.get("kind") == "function":
        # Tasks: one per argument list, or ``count`` calls with none.
        n = len(workload.get("args") or []) or workload.get("count", "?")
        parts.append(f"{str(workload.get('function', '')).rpartition(':')[2]} ×{n}")
    elif workload.get("kind"):
        size = f" {workload['duration_ms']:g} ms" if workload.get("duration_ms") else ""
        spread, drawn = workload.get("spread_ms"), workload.get("distribution")
        if size and spread and drawn in ("uniform", "normal"):  # (a fixed size read as if every task had it)
            size = f" {workload['duration_ms']:g} ± {spread:g} ms" + (" (normal, sd)" if drawn == "normal" else "")
        n = workload.get("count", "?")
        if spec is not None and isinstance(n, int):  # task 0 is the main program, each other a process
            parts.append(f"main + {n - 1} process{'es' if n != 2 else ''} ({workload['kind']}{size})")
        else:
            parts.append(f"{workload['kind']}{size} ×{n}")
    return " · ".join(parts)


def metrics_line(timeline: Timeline) -> str:
    """The headline figures of the run in one line."""
    m = compute_metrics(timeline)
    outcome = [f"{m.done} done"]
    outcome += [f"{n} {what}" for n, what in ((m.failed, "failed"), (m.timeout, "timed out"),
                                              (m.cancelled, "cancelled")) if n]
    return (f"{m.tasks} tasks: {', '.join(outcome)} · makespan {m.makespan_ns / 1e9:.3f} s · "
            f"slot occupancy {m.utilization * 100:.1f}% of {m.slots} worker slot{'s' if m.slots != 1 else ''} · "
            + (f"speedup {m.speedup:.2f}×" if m.has_speedup else "speedup none"))


def nice_ticks(lo: float, hi: float, max_ticks: int) -> tuple[np.ndarray, int]:
    """Round tick values in [lo, hi] (at most about ``max_ticks``) and the decimals to print them with."""
    span = max(hi - lo, 1e-9)
    raw = span / max(max_ticks, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    ticks = np.arange(first, hi + step * 1e-9, step)
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-9)))
    return ticks, decimals


def _legend(pic: Picture, y: float, width: float, chunks: bool) -> float:
    """Legend entries, wrapped to the width; returns the y below it."""
    x, line_h = MARGIN, SMALL_PX + 8
    swatches: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for entry in default_entries(chunks=chunks):
        w = text_width(entry.text, SMALL_PX, not entry.color) + (SWATCH + 4 if entry.color else 0)
        if x > MARGIN and x + w > width - MARGIN:
            x, y = MARGIN, y + line_h
        tx = x
        if entry.color:
            swatches.setdefault((entry.color, entry.outline), []).append((x, y + 1))
            tx = x + SWATCH + 4
        pic.shapes.append(Text(tx, y + SWATCH, entry.text, SMALL_PX, bold=not entry.color))
        x += w + 12
    for (fill, outline), places in swatches.items():
        xywh = np.array([(px, py, SWATCH, SWATCH) for px, py in places], np.float64)
        pic.shapes.append(RectGroup(fill, xywh, outline, 1.5 if outline else 0.0))
    return y + line_h + 4


def _rects_px(rects: Rects, top: float, height: float, x_px: Callable[[np.ndarray], np.ndarray],
              row_top: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Rectangles of a band (``top``, ``height`` within the row, px) in picture pixels."""
    xywh = np.empty((len(rects), 4), np.float64)
    xywh[:, 0] = x_px(rects.x0)
    xywh[:, 1] = row_top(rects.lane) + top
    xywh[:, 2] = x_px(rects.x1) - xywh[:, 0]
    xywh[:, 3] = height
    return xywh


def _grouped(xywh: np.ndarray, fills: list[str], stroke: dict[str, str] | None = None) -> list[RectGroup]:
    out = []
    keys = np.array(fills, dtype=object) if fills else np.zeros(0, object)
    for fill in dict.fromkeys(fills):
        sel = np.flatnonzero(keys == fill)
        outline = (stroke or {}).get(fill, "")
        out.append(RectGroup(fill, np.ascontiguousarray(xywh[sel]), outline, 1.5 if outline else 0.0))
    return out


def build_picture(timeline: Timeline, width: int, height: int, title: str = "") -> Picture:
    """Lay out the whole export of ``timeline`` at ``width`` x ``height`` pixels."""
    pic = Picture(width, height, title or "procviz timeline")
    pic.shapes.append(RectGroup(BACKGROUND, np.array([[0.0, 0.0, width, height]])))
    y = MARGIN + TITLE_PX
    pic.shapes.append(Text(MARGIN, y, pic.title, TITLE_PX, bold=True))
    if timeline.run is not None:
        y += TEXT_PX + 8
        pic.shapes.append(Text(MARGIN, y, config_line(timeline.run.config), TEXT_PX, color=MUTED))
        y += TEXT_PX + 6
        pic.shapes.append(Text(MARGIN, y, metrics_line(timeline), TEXT_PX, color=MUTED))
    model = GanttModel(timeline)
    model.sync()
    y = _legend(pic, y + 12, width, model.has_chunks)

    labels = lane_labels(timeline.lanes)
    labels += [f"lane {i}" for i in range(len(labels), model.lane_count)]
    label_w = min(max((text_width(t[:MAX_LABEL_CHARS], TEXT_PX) for t in labels), default=40.0), MAX_LABEL_PX)
    left, right = MARGIN + label_w + 10, width - MARGIN
    top, bottom = y + 4, height - MARGIN - AXIS_PX
    n = max(model.lane_count, 1)
    row_h = min((bottom - top) / n, layout.MAX_ROW_PX)
    bottom = top + row_h * n
    pic.chart = (left, right, top, row_h, model.lane_count)
    lo, hi = model.x_extent()
    if hi <= lo:
        hi = lo + 1.0
    pad = 0.01 * (hi - lo)
    vx0, vx1 = lo - pad, hi + pad
    px = (vx1 - vx0) / max(right - left, 1.0)

    def x_px(x: np.ndarray | float) -> np.ndarray:
        return left + (np.asarray(x, np.float64) - vx0) / px

    def row_top(lane: np.ndarray | float) -> np.ndarray:
        return top + np.asarray(lane, np.float64) * row_h

    odd = np.array([[left, top + i * row_h, right - left, row_h] for i in range(1, n, 2)], np.float64)
    if len(odd):
        pic.shapes.append(RectGroup(ZEBRA, odd.reshape(-1, 4)))
    ticks, decimals = nice_ticks(vx0, vx1, int((right - left) / 90))
    for t in ticks:
        xt = float(x_px(t))
        pic.shapes.append(Line(xt, top, xt, bottom, GRID))
        pic.shapes.append(Line(xt, bottom, xt, bottom + 4, INK))
        pic.shapes.append(Text(xt, bottom + 6 + SMALL_PX, f"{t:.{decimals}f}", SMALL_PX, anchor="middle"))
    pic.shapes.append(Line(left, bottom, right, bottom, INK))
    pic.shapes.append(Text((left + right) / 2, bottom + AXIS_PX - 4, "time since start (s)", SMALL_PX,
                           anchor="middle"))
    for i, text in enumerate(labels):
        shown = elided(text, TEXT_PX, MAX_LABEL_PX)
        pic.shapes.append(Text(left - 8, float(row_top(i)) + row_h / 2 + TEXT_PX * 0.35, shown, TEXT_PX,
                               anchor="end"))

    frame = model.frame(vx0, vx1, px, range(0, model.lane_count))
    shares = getattr(frame, "strip", None)  # the strip drawn as stacked shares, where the model makes them
    if shares is not None:
        for state, xywh in shares.xywh.items():  # data units, as the chart paints them
            if len(xywh):
                px_rects = np.column_stack((x_px(xywh[:, 0]), top + xywh[:, 1] * row_h, xywh[:, 2] / px,
                                            xywh[:, 3] * row_h))
                pic.shapes.append(RectGroup(colors.WORKER_STATE_COLORS[WorkerState(int(state))], px_rects))
    else:
        strip = frame.intervals
        worker = [colors.WORKER_STATE_COLORS[WorkerState(int(c))] for c in strip.code]
        pic.shapes += _grouped(_rects_px(strip, layout.STRIP_TOP * row_h, layout.STRIP_HEIGHT * row_h, x_px,
                                         row_top), worker)
    life = frame.lifecycle
    pic.shapes += _grouped(_rects_px(life, layout.STRIP_TOP * row_h, layout.STRIP_HEIGHT * row_h, x_px, row_top),
                           [colors.WORKER_STATE_COLORS[WorkerState(int(c))] for c in life.code])
    spans = frame.spans
    if len(spans):
        pic.shapes.append(RectGroup(colors.SPAN_COLOR, _rects_px(
            spans, layout.SPAN_TOP * row_h, layout.SPAN_HEIGHT * row_h, x_px, row_top)))
    tasks = task_bars(frame.tasks, px)
    fills = [bar_fill(int(c), int(s)).name().upper() for c, s in zip(tasks.code, tasks.shade, strict=True)]
    bars = _rects_px(tasks, layout.BAR_TOP * row_h, layout.BAR_HEIGHT * row_h, x_px, row_top)
    pic.shapes += _grouped(bars, fills, {colors.TASK_STATE_COLORS[TaskState.FAILED].upper():
                                         colors.FAILED_OUTLINE_COLOR})
    _bar_labels(pic, timeline, tasks, bars, fills, row_h)
    return pic


def _bar_labels(pic: Picture, timeline: Timeline, tasks: Rects, bars: np.ndarray, fills: list[str],
                row_h: float) -> None:
    """Task ids (or ``function #id``) inside the bars wide and tall enough for them."""
    if layout.BAR_HEIGHT * row_h < SMALL_PX + 2:
        return
    fn = function_name(timeline)
    for i in np.flatnonzero((tasks.key >= 0) & (bars[:, 2] >= MIN_LABEL_BAR_PX))[:600]:
        task = int(tasks.key[i])
        room = bars[i, 2] - 6

        def fits(text: str, room: float = room) -> bool:
            return text_width(text, SMALL_PX) <= room * 0.9  # other renderers' fonts may run wider

        text = label_for(task, fn, fits)
        if text:
            ink = ink_for(QColor(fills[i])).name()
            pic.shapes.append(Text(float(bars[i, 0]) + 3, float(bars[i, 1] + bars[i, 3] / 2 + SMALL_PX * 0.35),
                                   text, SMALL_PX, color=ink))
