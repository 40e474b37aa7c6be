"""Per-pixel-column maxima of a series of points, cached per zoom level (no Qt here).

The ready-queue plot draws a step function with up to two million steps at a million tasks. Handing
every step to a curve item cost 10-25 ms a repaint; a screen column can show only one height,
the highest the queue reached in it. So :class:`ColumnEnvelope` answers "the maximum in each
pixel column of this view" from a per-level cache: for a pixel width ``px`` the level is
``floor(log2(px))`` and the cache holds the maximum of every occupied grid bin of ``2**level``
seconds (no wider than a pixel, so binning moves nothing by more than a pixel). A frame then only
looks at the bins in view, about two per column, whatever the number of points.

When the series changes from position ``first`` on (a live run appends at the tail), only the
bins from the one holding that position are rebuilt; the bins before it stay.
"""

from __future__ import annotations

import math

import numpy as np

Bins = tuple[np.ndarray, np.ndarray]  # (bin index, maximum in the bin), both sorted by bin index
DIRECT_FACTOR = 4  # with fewer points in view than this many per column, bin the points directly
MAX_COLUMNS = 20_000  # a view is never wider than this many columns (a guard against px -> 0)


def bin_maxima(x: np.ndarray, y: np.ndarray, width: float) -> Bins:
    """Occupied bins of ``width`` seconds over sorted ``x`` and the maximum ``y`` in each."""
    if len(x) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    k = np.floor(x / width).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], np.maximum.reduceat(y, starts)


class ColumnEnvelope:
    """The maximum of ``y`` over each pixel column of a view, for points at sorted times ``x``.

    With ``carry`` the points are the steps of a left-step function (each ``y`` holds until the
    next point, and until ``end_x`` after the last), so an empty column shows the value carried
    into it; without, the points are marks and an empty column is 0.
    """

    LEVELS = 4  # zoom levels kept (zooming back and forth should not rebuild)

    def __init__(self, carry: bool) -> None:
        self.carry = carry
        self.x = np.zeros(0, np.float64)
        self.y = np.zeros(0, np.float64)
        self.end_x = 0.0
        self._levels: dict[int, Bins] = {}

    def set(self, x: np.ndarray, y: np.ndarray, first: int, end_x: float) -> None:
        """New points, equal to the previous ones before position ``first``; the series ends at ``end_x``."""
        old_x = self.x
        self.x, self.y, self.end_x = x, y, float(end_x)
        for level in list(self._levels):
            if first <= 0 or first > len(old_x) or len(x) == 0:
                del self._levels[level]
                continue
            b = 2.0**level
            # Bins from the one holding the first changed point on are rebuilt (in old or new).
            at = min(float(old_x[first]) if first < len(old_x) else math.inf,
                     float(x[first]) if first < len(x) else math.inf)
            if not math.isfinite(at):
                continue  # nothing changed after all
            cut = math.floor(at / b)
            k, m = self._levels[level]
            keep = int(np.searchsorted(k, cut, side="left"))
            j = int(np.searchsorted(x, cut * b, side="left"))
            tail_k, tail_m = bin_maxima(x[j:], y[j:], b)
            self._levels[level] = (np.concatenate((k[:keep], tail_k)), np.concatenate((m[:keep], tail_m)))

    def warm(self, px: float) -> None:
        """Build the bins a view of ``px`` seconds per pixel uses, and the levels either side
        (off the GUI thread, for a file: its first paint then only slices them)."""
        if px > 0 and len(self.x):
            level = math.floor(math.log2(px))
            for near in (level - 1, level + 1, level):  # (the view's own level last: most recently used)
                self._bins(near)

    def _bins(self, level: int) -> Bins:
        bins = self._levels.pop(level, None)
        if bins is None:
            bins = bin_maxima(self.x, self.y, 2.0**level)
        self._levels[level] = bins  # most recently used last
        while len(self._levels) > self.LEVELS:
            del self._levels[next(iter(self._levels))]
        return bins

    def columns(self, vx0: float, vx1: float, px: float) -> tuple[np.ndarray, np.ndarray]:
        """(left edge of each pixel column of the view, maximum in the column; 0 where nothing)."""
        if not (px > 0 and vx1 > vx0):
            return np.zeros(0), np.zeros(0)
        ncol = min(int(math.ceil((vx1 - vx0) / px)), MAX_COLUMNS)
        px = max(px, (vx1 - vx0) / MAX_COLUMNS)
        left = vx0 + np.arange(ncol) * px
        x, y = self.x, self.y
        if self.carry and len(x):
            i = np.searchsorted(x, left, side="right") - 1
            height = np.where((i >= 0) & (left < self.end_x), y[np.maximum(i, 0)], 0.0)
        else:
            height = np.zeros(ncol)
        i0, i1 = int(np.searchsorted(x, vx0, side="left")), int(np.searchsorted(x, vx1, side="right"))
        if i1 - i0 <= DIRECT_FACTOR * ncol:
            col, values = ((x[i0:i1] - vx0) / px).astype(np.int64), y[i0:i1]
        else:
            level = math.floor(math.log2(px))
            b = 2.0**level
            k, m = self._bins(level)
            a = int(np.searchsorted(k, math.floor(vx0 / b), side="left"))
            z = int(np.searchsorted(k, math.floor(vx1 / b), side="right"))
            col, values = np.floor((k[a:z] * b - vx0) / px).astype(np.int64), m[a:z]
        np.maximum.at(height, np.clip(col, 0, max(ncol - 1, 0)), values)
        return left, height


def runs(left: np.ndarray, height: np.ndarray, px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring columns of one height joined: (x0, x1, height) per run, zero runs included."""
    if len(height) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    starts = np.flatnonzero(np.r_[True, height[1:] != height[:-1]])
    x0 = left[starts]
    x1 = np.r_[left[starts[1:]], left[-1] + px]
    return x0, x1, height[starts]
