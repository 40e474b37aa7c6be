"""Culling and pixel merging: the one place that turns lane segments into rectangles to paint.

The screen and the PNG/SVG export both go through here, so an export shows exactly the
rectangles the chart shows, and a million tasks become a few rectangles per pixel column.

Grouping. Within a lane, segments sorted by start are grouped by the grid column (of width ``b``)
their start falls in; the columns' edges are binary-searched into the starts, so the cost grows
with the number of columns, not of segments. A group of several segments becomes one rectangle
from the first start to the last end. Only a group's last segment can be wider than a column
(the others end before the next starts, inside the same column), so a wide last segment is kept
apart: wide bars keep their identity and their own colour. A merged rectangle's code is, by mode:

* ``"max"`` (task bars): the highest rank in the group, so one failed task among a thousand done
  ones still shows red when zoomed out;
* ``"dominant"`` (state strips): the code covering the most time, so the strip stays a fair
  picture of how the worker spent its time.

Neighbours of one colour whose columns touch are then coalesced (which changes no pixel), so a
dense lane, and an SVG of it, is a handful of rectangles.

:func:`merge_lane` does this for the visible segments on the view's own pixel grid;
:mod:`procviz.gui.gantt.lod` caches the same runs per zoom level so panning and live appends stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from procviz.gui.gantt.series import LaneSeries

MAX = "max"
DOMINANT = "dominant"


@dataclass(frozen=True, slots=True)
class Rects:
    """Rectangles in data coordinates (seconds; lane rows) with what to paint them as.

    ``key`` is the segment's key (task id for bars) where a rectangle stands for one segment and
    -1 where it stands for several merged ones; ``shade`` is a merged rectangle's segments' shade
    where they all have one, else 0.
    """

    x0: np.ndarray
    x1: np.ndarray
    lane: np.ndarray
    code: np.ndarray
    shade: np.ndarray
    key: np.ndarray

    def __len__(self) -> int:
        return len(self.x0)

    @staticmethod
    def empty() -> Rects:
        """No rectangles."""
        f = np.zeros(0, np.float64)
        return Rects(f, f, np.zeros(0, np.int32), np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                     np.zeros(0, np.int64))

    @staticmethod
    def concat(parts: list[Rects]) -> Rects:
        """All rectangles of ``parts`` in one."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Rects.empty()
        if len(parts) == 1:
            return parts[0]
        return Rects(*(np.concatenate([getattr(p, f) for p in parts]) for f in Rects.__slots__))


@dataclass(frozen=True, slots=True)
class Runs:
    """Grid-level rectangles of one lane, sorted by start, before the pixel finish.

    ``fuzzy`` marks rectangles that are already a blur (merged, or thinner than a column);
    ``src`` is the first series position each one stands for (to resume merging from there).
    """

    x0: np.ndarray
    x1: np.ndarray
    code: np.ndarray
    shade: np.ndarray
    key: np.ndarray
    fuzzy: np.ndarray
    src: np.ndarray

    def __len__(self) -> int:
        return len(self.x0)

    def take(self, index: slice | np.ndarray) -> Runs:
        """The runs at ``index``."""
        return Runs(self.x0[index], self.x1[index], self.code[index], self.shade[index], self.key[index],
                    self.fuzzy[index], self.src[index])

    @staticmethod
    def concat(a: Runs, b: Runs) -> Runs:
        """``a`` then ``b``."""
        if len(b) == 0:
            return a
        if len(a) == 0:
            return b
        return Runs(*(np.concatenate((x, y)) for x, y in zip(a.columns(), b.columns(), strict=True)))

    def columns(self) -> tuple[np.ndarray, ...]:
        """The arrays in field order."""
        return (self.x0, self.x1, self.code, self.shade, self.key, self.fuzzy, self.src)


def check_view(vx0: float, vx1: float, px: float, mode: str) -> None:
    """Refuse an empty or non-finite view, a non-positive pixel size, or an unknown mode."""
    if not (px > 0 and vx1 > vx0 and math.isfinite(px) and math.isfinite(vx0) and math.isfinite(vx1)):
        raise ValueError(f"bad view: ({vx0}, {vx1}) at {px} s/px")
    if mode not in (MAX, DOMINANT):
        raise ValueError(f"unknown merge mode {mode!r}")


def _column_groups(x0: np.ndarray, origin: float, b: float) -> np.ndarray:
    """Start index of each run of segments whose starts share a grid column."""
    m = len(x0)
    c_first = math.floor((x0[0] - origin) / b)
    c_last = math.floor((x0[-1] - origin) / b)
    if m <= c_last - c_first + 1:
        # Few segments for the columns they span: compute each one's column (O(m)).
        cols = np.floor((x0 - origin) / b)
        return np.concatenate(([0], np.flatnonzero(cols[1:] != cols[:-1]) + 1))
    # Many: binary-search the column edges into the starts (O(columns log m)).
    edges = origin + b * np.arange(c_first + 1, c_last + 1)
    starts = np.concatenate(([0], np.searchsorted(x0, edges, side="left")))
    keep = np.ones(len(starts), bool)
    keep[1:] = starts[1:] != starts[:-1]
    starts = starts[keep]
    return starts[starts < m]


def _range_index(gs: np.ndarray, ge: np.ndarray, n: int) -> np.ndarray:
    """reduceat indices for the ranges [gs[i], ge[i]): results land at the even positions."""
    idx = np.empty(2 * len(gs), np.int64)
    idx[0::2] = gs
    idx[1::2] = ge
    if idx[-1] >= n:
        idx = idx[:-1]  # the last range runs to the end, which reduceat does by itself
    return idx


def _reduce_max(values: np.ndarray, gs: np.ndarray, ge: np.ndarray) -> np.ndarray:
    """max over values[gs[i]:ge[i]] for non-empty, non-overlapping, ascending ranges."""
    if len(gs) == 0:
        return np.zeros(0, values.dtype)
    return np.maximum.reduceat(values, _range_index(gs, ge, len(values)))[0::2]


def _uniform(values: np.ndarray, gs: np.ndarray, ge: np.ndarray) -> np.ndarray:
    """Per range (as :func:`_reduce_max`), its value where all of it has one, else 0: merged bars
    of one chunk keep its shade, so chunks wider than a pixel still alternate at any zoom."""
    if len(gs) == 0:
        return np.zeros(0, values.dtype)
    top = _reduce_max(values, gs, ge)
    low = np.minimum.reduceat(values, _range_index(gs, ge, len(values)))[0::2]
    return np.where(top == low, top, 0).astype(values.dtype)


def _dominant(rank: np.ndarray, x0: np.ndarray, x1: np.ndarray, gs: np.ndarray, ge: np.ndarray) -> np.ndarray:
    """Per range, the code covering the most time."""
    if len(gs) == 0:
        return np.zeros(0, np.uint8)
    present = np.flatnonzero(np.bincount(rank[gs[0] : ge[-1]]))
    if len(present) == 1:
        return np.full(len(gs), present[0], np.uint8)
    # One row of durations per present code, summed over every range in a single reduceat.
    slot = np.zeros(int(rank.max()) + 1, np.int64)
    slot[present] = np.arange(len(present))
    weights = np.zeros((len(present), len(rank)))
    weights[slot[rank], np.arange(len(rank))] = np.maximum(x1 - x0, 0.0)
    sums = np.add.reduceat(weights, _range_index(gs, ge, len(rank)), axis=1)[:, 0::2]
    return present[np.argmax(sums, axis=0)].astype(np.uint8)


def group_runs(x0: np.ndarray, x1: np.ndarray, xmax: np.ndarray, rank: np.ndarray, shade: np.ndarray,
               key: np.ndarray, s0: np.ndarray, b: float, mode: str) -> Runs:
    """Runs (not coalesced) of the column groups starting at indices ``s0``, in order.

    Each group gives its head (merged, or one thin segment) and, if its last segment is at least
    a column wide, that segment on its own after it. ``src`` of the result indexes these arrays.
    """
    m = len(x0)
    e0 = np.append(s0[1:], m)
    last = e0 - 1
    wide = (x1[last] - x0[last]) >= b
    mend = e0 - wide  # each group's mergeable head is [s0, mend), maybe one segment, maybe empty
    msize = mend - s0
    lone = msize == 1
    many = msize >= 2
    gs, ge = s0[many], mend[many]
    gcode = _reduce_max(rank, gs, ge) if mode == MAX else _dominant(rank, x0, x1, gs, ge)
    singles = np.concatenate((s0[lone], last[wide]))
    g = np.arange(len(s0))
    order = np.argsort(np.concatenate((2 * g[lone], 2 * g[wide] + 1, 2 * g[many])), kind="stable")
    return Runs(
        x0=np.concatenate((x0[singles], x0[gs]))[order],
        x1=np.concatenate((x1[singles], xmax[ge - 1]))[order],
        code=np.concatenate((rank[singles], gcode)).astype(np.uint8)[order],
        shade=np.concatenate((shade[singles], _uniform(shade, gs, ge))).astype(np.uint8)[order],
        key=np.concatenate((key[singles], np.full(len(gs), -1, np.int64)))[order],
        fuzzy=np.concatenate((x1[singles] - x0[singles] < b, np.ones(len(gs), bool)))[order],
        src=np.concatenate((singles, gs))[order],
    )


def build_runs(series: LaneSeries, lo: int, hi: int, origin: float, b: float, mode: str,
               coalesced: bool = True) -> Runs:
    """Group series[lo:hi] on the grid (origin, column width ``b``), then coalesce; see the module doc."""
    if hi <= lo:
        return EMPTY_RUNS
    x0 = series.x0[lo:hi]
    r = group_runs(x0, series.x1[lo:hi], series.xmax[lo:hi], series.rank[lo:hi], series.shade[lo:hi],
                   series.key[lo:hi], _column_groups(x0, origin, b), b, mode)
    r = Runs(r.x0, r.x1, r.code, r.shade, r.key, r.fuzzy, r.src + lo)
    return coalesce(r, origin, b) if coalesced else r


def build_runs_many(items: list[tuple[LaneSeries, int, int]], origin: float, b: float,
                    mode: str) -> tuple[Runs, np.ndarray]:
    """Raw (not coalesced) runs of series[lo:hi] for several lanes in one vectorised pass.

    The slices are concatenated and grouped by (lane, column): a lane change always starts a new
    group. Returns the runs (``src`` = series positions) and the item index of each run.
    """
    lens = np.array([hi - lo for _, lo, hi in items], np.int64)
    total = int(lens.sum())
    if total == 0:
        return EMPTY_RUNS, np.zeros(0, np.int64)

    def cat(column: str) -> np.ndarray:
        return np.concatenate([getattr(s, column)[lo:hi] for s, lo, hi in items])

    x0 = cat("x0")
    item = np.repeat(np.arange(len(items)), lens)
    los = np.array([lo for _, lo, _ in items], np.int64)
    pos = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(los, lens)
    cols = np.floor((x0 - origin) / b)
    s0 = np.concatenate(([0], np.flatnonzero((cols[1:] != cols[:-1]) | (item[1:] != item[:-1])) + 1))
    raw = group_runs(x0, cat("x1"), cat("xmax"), cat("rank"), cat("shade"), cat("key"), s0, b, mode)
    return Runs(raw.x0, raw.x1, raw.code, raw.shade, raw.key, raw.fuzzy, pos[raw.src]), item[raw.src]


def coalesce_starts(r: Runs, origin: float, b: float, lane: np.ndarray | None = None) -> np.ndarray:
    """Where coalesced runs start: a new one wherever neighbours (sorted by start) differ in colour
    or lane, or neither overlaps nor sits in the next grid column with a blur on either side.

    The union of rectangles in adjacent columns covers the same columns as they do, so no pixel
    changes; wide bars side by side keep their edges (task boundaries). Whether a run joins the
    previous one depends only on that one's last member, so coalescing a run together with raw
    rectangles that follow it gives what one pass over all of them would.
    """
    n = len(r)
    if n <= 1:
        return np.zeros(min(n, 1), np.int64)
    first_col = np.floor((r.x0[1:] - origin) / b)
    prev_col = np.ceil((r.x1[:-1] - origin) / b)
    blur = r.fuzzy[1:] | r.fuzzy[:-1]
    # Two sharp rectangles that merely touch stay apart: back-to-back tasks keep their boundary.
    joins = (r.x0[1:] < r.x1[:-1]) | ((r.x0[1:] == r.x1[:-1]) & blur) | ((first_col <= prev_col) & blur)
    same = (r.code[1:] == r.code[:-1]) & (r.shade[1:] == r.shade[:-1]) & joins
    if lane is not None:
        same &= lane[1:] == lane[:-1]
    return np.concatenate(([0], np.flatnonzero(~same) + 1))


def coalesced(r: Runs, rs: np.ndarray) -> Runs:
    """``r`` with the members of each run starting at ``rs`` joined into one rectangle."""
    n = len(r)
    if len(rs) == n:
        return r
    re = np.append(rs[1:], n)
    return Runs(r.x0[rs], np.maximum.reduceat(r.x1, rs), r.code[rs], r.shade[rs],
                np.where(re - rs == 1, r.key[rs], -1), r.fuzzy[re - 1], r.src[rs])


def coalesce(r: Runs, origin: float, b: float) -> Runs:
    """Join neighbours of one colour that touch at grid resolution (see :func:`coalesce_starts`)."""
    return coalesced(r, coalesce_starts(r, origin, b))


EMPTY_RUNS = Runs(np.zeros(0), np.zeros(0), np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                   np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, np.int64))


def finish(r: Runs, lane: int | np.ndarray, vx0: float, vx1: float, px: float) -> Rects:
    """Runs -> paintable Rects: only those in (vx0, vx1), at least a pixel wide, clipped near the view.

    ``lane`` is the row of all runs, or an array with the row of each.
    """
    visible = (r.x1 > vx0) & (r.x0 < vx1)
    x0, x1 = r.x0[visible], r.x1[visible]
    # A fill thinner than a pixel may rasterise to nothing; clipping keeps coordinates small.
    x1 = np.clip(np.maximum(x1, x0 + px), vx0 - px, vx1 + px)
    x0 = np.clip(x0, vx0 - px, vx1 + px)
    rows = np.full(len(x0), lane, np.int32) if np.ndim(lane) == 0 else np.asarray(lane, np.int32)[visible]
    return Rects(x0, x1, rows, r.code[visible], r.shade[visible], r.key[visible])


def merge_lane(series: LaneSeries, lane: int, vx0: float, vx1: float, px: float, mode: str = MAX) -> Rects:
    """Rectangles for one lane in the view (vx0, vx1) at ``px`` seconds/pixel, on the view's own grid."""
    check_view(vx0, vx1, px, mode)
    lo, hi = series.span(vx0, vx1)
    return finish(build_runs(series, lo, hi, vx0, px, mode), lane, vx0, vx1, px)
