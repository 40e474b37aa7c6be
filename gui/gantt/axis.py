"""The left axis: one label per lane row ("worker 2 · pid 4711"), thinned when rows get small."""

from __future__ import annotations

import math

import pyqtgraph as pg

MIN_LABEL_PX = 15.0  # below this many pixels per label, only every k-th row is labelled


class LaneAxis(pg.AxisItem):
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
