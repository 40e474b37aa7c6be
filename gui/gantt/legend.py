"""The legend strip above the chart: what each task colour and each worker-state colour means.

Painted by hand (swatches + text, wrapping to the width) rather than built from QLabels, so it
renders identically on screen and into PNG/SVG exports.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from procviz.engine.events import TaskState, WorkerState
from procviz.gui import colors

SWATCH = 12  # px
GAP = 6
ITEM_GAP = 14
MARGIN = 6


@dataclass(frozen=True, slots=True)
class Entry:
    """One legend entry: a swatch colour (optional outline) and its text; a heading has no colour."""

    text: str
    color: str = ""
    outline: str = ""


def default_entries(chunks: bool = True) -> list[Entry]:
    """Task states as the bars show them, then the five worker states of the strip.

    ``chunks``: the run groups tasks in chunks, so the second shade of "done" means something.
    """
    t, labels = colors.TASK_STATE_COLORS, colors.TASK_STATE_LABELS
    entries = [Entry("Task bars:")]
    entries += [Entry(labels[s], t[s], colors.FAILED_OUTLINE_COLOR if s == TaskState.FAILED else "")
                for s in (TaskState.RUNNING, TaskState.DONE)]
    if chunks:
        entries.append(Entry("done, next chunk", colors.DONE_ALT_COLOR))
    entries += [Entry(labels[s], t[s], colors.FAILED_OUTLINE_COLOR if s == TaskState.FAILED else "")
                for s in (TaskState.FAILED, TaskState.TIMEOUT, TaskState.CANCELLED)]
    entries.append(Entry("wait span", colors.SPAN_COLOR))
    entries.append(Entry("Strip under the bars, the worker's OS state:"))
    entries += [Entry(colors.WORKER_STATE_LABELS[s], colors.WORKER_STATE_COLORS[s]) for s in WorkerState]
    return entries


LEGEND_TOOLTIP = (
    "<qt><b>Task bars</b>: one bar per task, on the lane of the worker that ran it, coloured by how "
    "it ended. A thin gap separates back-to-back tasks; with Pool.map-style chunks every other chunk "
    "is a lighter blue. A magenta line under a bar: the task waited in a lock, queue or pipe.<br>"
    "<b>Strip</b>: the thin band under each lane is the worker process's (or thread's) own state as "
    "the kernel measured it: new (starting up), ready (runnable, no CPU free), running (on a CPU), "
    "waiting (blocked: sleep, I/O, a lock, or idle), terminated (exited).</qt>")


class LegendBar(QWidget):
    """A wrapping row of colour swatches with labels."""

    def __init__(self, parent: QWidget | None = None, entries: list[Entry] | None = None) -> None:
        super().__init__(parent)
        self.entries = entries if entries is not None else default_entries()
        self.setToolTip(LEGEND_TOOLTIP)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_entries(self, entries: list[Entry]) -> None:
        """Show other entries (relayout and repaint only if they changed)."""
        if entries != self.entries:
            self.entries = entries
            self.setFixedHeight(self.heightForWidth(self.width()))
            self.update()

    def _bold(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        return font

    def _width(self, e: Entry) -> int:
        font = self.font() if e.color else self._bold()
        return QFontMetrics(font).horizontalAdvance(e.text) + (SWATCH + GAP if e.color else 0)

    def _line_height(self) -> int:
        return max(QFontMetrics(self.font()).height(), SWATCH) + 4

    def _layout(self, width: int) -> list[tuple[float, float, Entry]]:
        """(x, y) of each entry, wrapping before an entry that would overflow ``width``."""
        x, y, out = float(MARGIN), float(MARGIN), []
        widths = [self._width(e) for e in self.entries]
        for i, e in enumerate(self.entries):
            # A heading stays on the line of its first entry.
            need = widths[i] + (ITEM_GAP + widths[i + 1] if not e.color and i + 1 < len(widths) else 0)
            if x > MARGIN and x + need > width - MARGIN:
                x, y = float(MARGIN), y + self._line_height()
            out.append((x, y, e))
            x += widths[i] + ITEM_GAP
        return out

    def hasHeightForWidth(self) -> bool:
        """The legend's height depends on its width (it wraps)."""
        return True

    def heightForWidth(self, width: int) -> int:
        """Height needed to show every entry at ``width``."""
        placed = self._layout(width)
        return int(placed[-1][1] + self._line_height() + MARGIN) if placed else 0

    def sizeHint(self) -> QSize:
        """As wide as offered, as tall as the wrapped entries need."""
        width = max(self.width(), 400)
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        """Narrow is fine: the entries wrap."""
        return QSize(100, self.heightForWidth(max(self.width(), 100)))

    def resizeEvent(self, ev: QResizeEvent) -> None:
        """Keep the fixed height in step with the wrapped width."""
        super().resizeEvent(ev)
        if self.height() != self.heightForWidth(self.width()):
            self.setFixedHeight(self.heightForWidth(self.width()))

    def paintEvent(self, ev: QPaintEvent) -> None:
        """Swatches and labels, wrapped to the width."""
        p = QPainter(self)
        text_pen = QPen(self.palette().windowText().color())
        line_h = self._line_height()
        for x, y, e in self._layout(self.width()):
            tx = x
            if e.color:
                sy = y + (line_h - SWATCH) / 2
                p.setPen(QPen(QColor(e.outline), 1.5) if e.outline else Qt.PenStyle.NoPen)
                p.setBrush(QColor(e.color))
                p.drawRect(QRectF(x, sy, SWATCH, SWATCH))
                tx = x + SWATCH + GAP
            p.setFont(self.font() if e.color else self._bold())
            p.setPen(text_pen)
            p.drawText(QRectF(tx, y, self._width(e) + 8, line_h),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), e.text)
        p.end()
