"""Level of detail: merged runs cached per zoom level, so panning and live appends stay cheap.

For a pixel width ``px`` the level is ``floor(log2(px))``: runs are built for the *whole* lane on
a fixed grid of ``2**level`` seconds (no wider than a pixel, so merging on it changes no pixel)
and a frame only slices them by the view and finishes them (:func:`procviz.gui.gantt.merge.finish`).
Panning over a million bars then costs two binary searches per lane.

When a lane's series changes (new tasks arrive at its tail, a running bar grows), the runs are
rebuilt from the grid column holding the first changed segment; the runs before it stay. Doing
that lane by lane costs a hundred small numpy calls per lane, so :func:`merge_lanes` re-merges
the tails of all stale lanes together, in one vectorised pass, before slicing.

When few segments are visible (zoomed in), :func:`procviz.gui.gantt.merge.merge_lane` on the view's own
grid is just as cheap and exact, and is used instead.
"""

from __future__ import annotations

import math

import numpy as np

from procviz.gui.gantt.merge import (
    EMPTY_RUNS,
    MAX,
    Rects,
    Runs,
    build_runs,
    build_runs_many,
    check_view,
    coalesce,
    coalesce_starts,
    coalesced,
    finish,
)
from procviz.gui.gantt.series import LaneSeries

Split = tuple[int, int, Runs | None]  # (first position to re-merge, runs kept, cut piece of the next)


class LaneMerger:
    """Merged rectangles of one lane for any view, cached per zoom level."""

    DIRECT_FACTOR = 0.5  # with fewer visible segments than this per pixel column, merge directly
    SPAN_FACTOR = 4.0  # ... or when the whole lane is wider than this many views (a level's runs
    #                    cover the whole lane, so building one for a deep zoom would cost more
    #                    than merging what is visible)
    LEVELS = 4  # zoom levels kept (zooming back and forth should not rebuild)

    def __init__(self, series: LaneSeries, mode: str = MAX) -> None:
        self.series = series
        self.mode = mode
        self._levels: dict[int, tuple[int, Runs, np.ndarray]] = {}  # level -> (generation, runs, reach)

    def wants_cache(self, vx0: float, vx1: float, px: float) -> bool:
        """Whether this view is served from the level cache (many segments visible, and the view
        showing a good part of the lane)."""
        s = self.series
        if s.n == 0 or s.xmax[-1] - s.x0[0] > self.SPAN_FACTOR * (vx1 - vx0):
            return False
        lo, hi = s.span(vx0, vx1)
        return hi - lo > self.DIRECT_FACTOR * (vx1 - vx0) / px

    def rects(self, lane: int, vx0: float, vx1: float, px: float) -> Rects:
        """Rectangles to paint for the view (vx0, vx1) at ``px`` seconds per pixel."""
        check_view(vx0, vx1, px, self.mode)
        if not self.wants_cache(vx0, vx1, px):
            lo, hi = self.series.span(vx0, vx1)
            return finish(build_runs(self.series, lo, hi, vx0, px, self.mode), lane, vx0, vx1, px)
        return finish(self.visible_runs(vx0, vx1, px), lane, vx0, vx1, px)

    def visible_runs(self, vx0: float, vx1: float, px: float) -> Runs:
        """The cached runs of this pixel size's level that reach into (vx0, vx1) (views, no copy)."""
        runs, reach = self.level_runs(math.floor(math.log2(px)))
        a = int(np.searchsorted(reach, vx0, side="right"))
        z = int(np.searchsorted(runs.x0, vx1, side="left"))
        return runs.take(slice(a, max(a, z)))

    def level_runs(self, level: int) -> tuple[Runs, np.ndarray]:
        """The whole lane's runs on the grid of 2**level seconds, and their running max end."""
        s = self.series
        b = 2.0**level
        cached = self._levels.get(level)
        if cached is None:
            runs = build_runs(s, 0, s.n, 0.0, b, self.mode)
        else:
            generation, runs, reach = cached
            touched = s.touched_since(generation)
            if touched is None:
                self._levels[level] = self._levels.pop(level)  # most recently used last
                return runs, reach
            split = self.split(runs, touched, b)
            if split is None:
                runs = build_runs(s, 0, s.n, 0.0, b, self.mode)
            else:
                prefix, last = self.head_parts(runs, split)
                tail = build_runs(s, split[0], s.n, 0.0, b, self.mode, coalesced=False)
                runs = Runs.concat(prefix, coalesce(Runs.concat(last, tail), 0.0, b))
        return self.store(level, runs)

    def store(self, level: int, runs: Runs) -> tuple[Runs, np.ndarray]:
        """Remember ``runs`` as up to date for ``level`` (dropping the least recently used level)."""
        reach = np.maximum.accumulate(runs.x1) if len(runs) else runs.x1
        self._levels.pop(level, None)
        self._levels[level] = (self.series.generation, runs, reach)
        while len(self._levels) > self.LEVELS:
            del self._levels[next(iter(self._levels))]
        return runs, reach

    def stale(self, level: int) -> tuple[Runs, Split] | None:
        """The cached runs of ``level`` and how to bring them up to date, if they can be resumed."""
        cached = self._levels.get(level)
        if cached is None:
            return None
        touched = self.series.touched_since(cached[0])
        if touched is None:
            return None
        split = self.split(cached[1], touched, 2.0**level)
        return None if split is None else (cached[1], split)

    def split(self, runs: Runs, touched: int, b: float) -> Split | None:
        """Where to resume after a change at position ``touched`` (None: rebuild everything).

        Re-merging starts at the first segment of the grid column holding ``touched``. A run is
        whole column groups of one colour, so a run reaching into that column is cut at its first
        segment and keeps its colour.
        """
        s = self.series
        if len(runs) == 0 or touched <= 0 or s.n == 0:
            return None
        pos = min(touched, s.n - 1)
        start = int(np.searchsorted(s.x0, math.floor(s.x0[pos] / b) * b, side="left"))
        idx = int(np.searchsorted(runs.src, start, side="right")) - 1  # the run holding `start`
        if start == 0 or idx < 0:
            return None
        if runs.src[idx] == start:
            return start, idx, None
        first = int(runs.src[idx])
        # Position start-1 ends its column group, so it is a wide tail exactly when it is wide.
        cut = Runs(runs.x0[idx : idx + 1], s.xmax[start - 1 : start].copy(), runs.code[idx : idx + 1],
                   runs.shade[idx : idx + 1], np.array([s.key[first] if start - first == 1 else -1], np.int64),
                   np.array([bool(s.x1[start - 1] - s.x0[start - 1] < b)]), runs.src[idx : idx + 1])
        return start, idx, cut

    @staticmethod
    def head_parts(runs: Runs, split: Split) -> tuple[Runs, Runs]:
        """The kept runs as (those that stay as they are, the last one that may join the tail)."""
        _, keep, cut = split
        if cut is not None:
            return runs.take(slice(0, keep)), cut
        if keep == 0:
            return EMPTY_RUNS, EMPTY_RUNS
        return runs.take(slice(0, keep - 1)), runs.take(slice(keep - 1, keep))


def resume_lanes(mergers: list[LaneMerger], level: int) -> None:
    """Bring the ``level`` caches of several lanes up to date with one vectorised re-merge.

    Every stale lane's tail is concatenated (lanes never share a column group: a lane change
    starts a new group), grouped and coalesced in one pass, and handed back lane by lane.
    """
    work = [(m, *stale) for m in mergers if (stale := m.stale(level)) is not None]
    if len(work) < 2:
        return  # one lane: its own resume in level_runs() is as cheap
    b = 2.0**level
    raw, raw_lane = build_runs_many([(m.series, split[0], m.series.n) for m, _, split in work], 0.0, b,
                                    work[0][0].mode)

    # Each lane's last kept run goes in front of its tail; one coalescing pass joins them all.
    heads = [LaneMerger.head_parts(runs, split) for _, runs, split in work]
    lasts = [last for _, last in heads]
    joined = Runs(*(np.concatenate([last.columns()[c] for last in lasts] + [raw.columns()[c]])
                    for c in range(len(raw.columns()))))
    joined_lane = np.concatenate((np.repeat(np.arange(len(work)), [len(last) for last in lasts]), raw_lane))
    order = np.argsort(joined_lane, kind="stable")  # per lane: its kept run first, then its tail
    joined, joined_lane = joined.take(order), joined_lane[order]
    rs = coalesce_starts(joined, 0.0, b, joined_lane)
    joined, joined_lane = coalesced(joined, rs), joined_lane[rs]
    bounds = np.searchsorted(joined_lane, np.arange(len(work) + 1))
    for j, (merger, _, _) in enumerate(work):
        merger.store(level, Runs.concat(heads[j][0], joined.take(slice(bounds[j], bounds[j + 1]))))


def merge_lanes(mergers: list[LaneMerger], lanes: range, vx0: float, vx1: float, px: float) -> Rects:
    """Rectangles of rows ``lanes`` (indices into ``mergers``), concatenated.

    Rows served from their level cache are brought up to date together (:func:`resume_lanes`);
    the others are merged directly on the view's grid, all in one vectorised pass as well.
    """
    active = [i for i in lanes if 0 <= i < len(mergers) and len(mergers[i].series)]
    if not active:
        return Rects.empty()
    mode = mergers[active[0]].mode
    check_view(vx0, vx1, px, mode)
    cached = [i for i in active if mergers[i].wants_cache(vx0, vx1, px)]
    parts = []
    if cached:
        if len(cached) > 1:
            resume_lanes([mergers[i] for i in cached], math.floor(math.log2(px)))
        visible = [mergers[i].visible_runs(vx0, vx1, px) for i in cached]
        runs = Runs(*(np.concatenate([v.columns()[c] for v in visible]) for c in range(len(visible[0].columns()))))
        rows = np.repeat(np.asarray(cached, np.int64), [len(v) for v in visible])
        parts.append(finish(runs, rows, vx0, vx1, px))
    served = set(cached)
    direct = [i for i in active if i not in served]
    if direct:
        items = [(mergers[i].series, *mergers[i].series.span(vx0, vx1)) for i in direct]
        raw, item = build_runs_many(items, vx0, px, mode)
        rows = np.asarray(direct, np.int64)[item]
        rs = coalesce_starts(raw, vx0, px, rows)
        parts.append(finish(coalesced(raw, rs), rows[rs], vx0, vx1, px))
    return Rects.concat(parts)
