"""The chart's axes: the left one has one label per lane row ("worker 2 · pid 4711"), thinned when
rows get small; every axis of the chart re-lays out its title only when the title changes."""

from __future__ import annotations

import math

import pyqtgraph as pg

MIN_LABEL_PX = 15.0  # below this many pixels per label, only every k-th row is labelled


class SteadyAxis(pg.AxisItem):
    """An AxisItem that re-lays out its title only when the title's text changes.

    pyqtgraph re-sets the title's HTML (a QTextDocument laid out again) and re-sizes the axis at
    every change of the range it shows, to follow its SI prefix ("ms", "s"): a live run moves
    the time range at each fold, and the queue plot's hidden time axis follows it too. The tick
    picture is still redrawn at every range change, as pyqtgraph does.
    """

    _title_html: str | None = None  # the HTML the title was last given (None: never)

    def _updateLabel(self) -> None:  # noqa: N802 - pyqtgraph's name (called from its setRange and setLabel)
        html = self.labelString()
        if html != self._title_html:
            self._title_html = html
            self.label.setHtml(html)
            self._adjustSize()
            # Centred again on the axis: pyqtgraph places the title in resizeEvent only, so a new
            # title of another width ("(s)" -> "(ms)") stayed where the old one was centred until
            # the axis happened to be resized after it (a matter of timing).
            self.resizeEvent()
        self.picture = None
        self.update()


SPARE_SIDES = ("top", "right")  # a PlotItem's axes that are hidden unless asked for


def steady_axes(**given: pg.AxisItem) -> dict[str, pg.AxisItem]:
    """A PlotItem's ``axisItems``: the ones ``given`` by orientation, a :class:`SteadyAxis` for the
    others (its hidden top and right axes follow the range too). PlotItem shows every axis it is
    given: hide the spare ones after (:func:`hide_spare_axes`)."""
    return {side: given.get(side) or SteadyAxis(side) for side in ("left", "bottom", *SPARE_SIDES)}


def hide_spare_axes(plot: pg.PlotItem) -> None:
    """Hide ``plot``'s top and right axes, as a PlotItem has them by default."""
    for side in SPARE_SIDES:
        plot.hideAxis(side)


class LaneAxis(SteadyAxis):
    """A left AxisItem whose ticks are lane rows (row i is centred on y = i + 0.5)."""

    def __init__(self) -> None:
        super().__init__("left")
        self._labels: list[str] = []
        self.setStyle(tickLength=0, autoExpandTextSpace=True)

    @property
    def labels(self) -> list[str]:
        """The current row labels."""
        return list(self._labels)

    def set_labels(self, labels: list[str]) -> None:
        """Replace the row labels (redraws only if they changed)."""
        if labels != self._labels:
            self._labels = list(labels)
            self.picture = None  # AxisItem caches its drawing in a QPicture
            self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        """Row centres in view, every k-th row so labels never overlap."""
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)
        first, last = max(0, math.floor(lo)), min(len(self._labels), math.ceil(hi))
        if last <= first or size <= 0:
            return []
        row_px = size / max(hi - lo, 1e-9)
        step = max(1, math.ceil(MIN_LABEL_PX / row_px))
        first -= first % step  # keep the same rows labelled while scrolling
        return [(1.0, [i + 0.5 for i in range(first, last, step) if lo <= i + 0.5 <= hi])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """The lane label of each row centre."""
        n = len(self._labels)
        return [self._labels[int(v)] if 0 <= int(v) < n else "" for v in values]
