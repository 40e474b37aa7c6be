"""The chart's view of a Timeline: per-lane sorted series of bars, state intervals and wait spans.

No Qt here. :meth:`GanttModel.sync` folds in whatever the Timeline gained since the last call, in
time proportional to what changed: new state intervals and spans are the tail of append-only
columns, and task changes are found by comparing the task-state column with a copy (every start
and every end changes a task's state), a single pass over a byte per task, far below a frame at
a million tasks. A reset (new run, file loaded) rebuilds everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from procviz.engine.events import LaneInfo, RunInfo, TaskState, WorkerState
from procviz.engine.timeline import Timeline
from procviz.engine.written_blocks import WrittenBlocks, changed_ids
from procviz.gui.gantt.lod import LaneMerger, merge_lanes
from procviz.gui.gantt.merge import DOMINANT, MAX, Rects
from procviz.gui.gantt.series import LaneSeries
from procviz.gui.gantt.strip import StateStrip, StripFrame, StripImage

# Merge priority of a task bar's state: when sub-pixel bars are merged the highest rank wins, so
# rare outcomes (failed, timeout) stay visible in a sea of done tasks.
RANK_STATES: tuple[TaskState, ...] = (
    TaskState.DONE,
    TaskState.RUNNING,
    TaskState.CANCELLED,
    TaskState.TIMEOUT,
    TaskState.FAILED,
)
# TaskState value -> rank; a started task that is not terminal is drawn as running.
RANK_OF_STATE = np.array([1, 1, 1, 0, 4, 3, 2], dtype=np.uint8)
assert all(RANK_STATES[RANK_OF_STATE[s]] == s for s in RANK_STATES)

NS = 1e-9


def chunk_groups(chunk: np.ndarray) -> np.ndarray:
    """Per task, the chunk that groups it with others, or -1 where its chunk holds it alone.

    ``apply`` / ``apply_async`` / ``imap`` with chunksize 1 give every task its own chunk: those are
    no groups, and shading them as such would suggest a batching that does not exist.
    """
    chunk = np.asarray(chunk, np.int64)
    if len(chunk) == 0:
        return chunk.copy()
    if chunk[0] >= 0 and np.all(chunk[1:] >= chunk[:-1]):
        # A Pool's chunks are runs of consecutive ids (a run's start: 1.4 ms at 100k tasks the
        # general way, a gather per task): a chunk is alone where its run is one task long.
        starts = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1]])
        lengths = np.diff(np.r_[starts, len(chunk)])
        if lengths.min() > 1:
            return chunk.copy()
        return np.where(np.repeat(lengths > 1, lengths), chunk, -1)
    sizes = np.bincount(np.maximum(chunk, 0))
    return np.where((chunk >= 0) & (sizes[np.maximum(chunk, 0)] > 1), chunk, -1)


@dataclass(frozen=True, slots=True)
class Frame:
    """Everything to paint for one view: bars, state strip, lifecycle (new/terminated), spans."""

    tasks: Rects
    intervals: Rects
    lifecycle: Rects
    spans: Rects
    strip: StripFrame | None = None  # the state strip as stacked shares (gui/gantt/strip.py)
    strip_images: tuple[StripImage, ...] = ()  # ... or, on screen, as one picture per lane


class GanttModel:
    """Lane series for one Timeline, kept up to date by :meth:`sync`."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.strip = StateStrip(timeline)
        self.version = 0  # bumped whenever what would be painted may have changed
        self._reset_pending = True
        self.tasks: list[LaneSeries] = []
        self.intervals: list[LaneSeries] = []
        self.spans: list[LaneSeries] = []
        self._seen_state = np.zeros(0, np.uint8)
        self._written = WrittenBlocks()  # the blocks of task ids compared at the next fold
        self._bar_lane = np.zeros(0, np.int32)
        self._running = np.zeros(0, np.int64)
        self._n_intervals = 0
        self._n_spans = 0
        self._now_x = 0.0
        self._synced_version = -1
        self._run: RunInfo | None = None
        self._lanes_seen: list[LaneInfo] = []
        self._created = self._ready = self._exit = np.zeros(0)
        self._extent: tuple[int, tuple[float, float]] = (-1, (0.0, 0.0))
        self._mergers: dict[int, LaneMerger] = {}  # id(series) -> its cached merger
        self._groups = np.zeros(0, np.int64)
        self._has_chunks = False
        self._columns: np.ndarray | None = None  # the task-state column the last rebuild read
        self.more = False  # the last sync(limit) left changed tasks for the next one
        self.rebuilt = False  # the last sync rebuilt everything (a reset: a whole slice of its own)

    # ---- keeping up -----------------------------------------------------------------------------

    def invalidate(self, reset: bool = False) -> None:
        """Note that the timeline changed (``reset``: everything must be rebuilt).

        A reset whose columns are the very arrays this model was built from (a file indexed off
        the GUI thread, then handed over: see :meth:`rebind`) needs no rebuild: a new run or file
        always comes with new arrays.
        """
        fresh = self.timeline.state is not self._columns
        self._reset_pending = self._reset_pending or (reset and fresh)
        self._synced_version = -1

    def rebind(self, timeline: Timeline) -> None:
        """Read ``timeline`` from now on: it has taken over the columns this model was built from."""
        self.timeline = timeline
        self.strip.timeline = timeline

    def sync(self, limit: int | None = None) -> bool:
        """Fold in what changed since the last call; returns whether anything drawable did.

        ``limit``: fold in at most this many changed tasks (:attr:`more` then says whether some
        are left for the next call), so a big change is spread over passes of the event loop.
        A rebuild (a reset) is always whole.
        """
        tl = self.timeline
        self.more = self.rebuilt = False
        # A timeline that was filled without notify() has version 0: diff it every time.
        if not self._reset_pending and tl.version != 0 and self._synced_version == tl.version:
            return False
        if (self._reset_pending or tl.run is not self._run or len(tl.state) != len(self._seen_state)
                or len(tl.intervals) < self._n_intervals or len(tl.spans) < self._n_spans):
            self._rebuild()
            changed = True
        else:
            changed = self._sync_lanes()
            n_tasks = self._sync_tasks(limit)
            if n_tasks < 0:
                self._rebuild()
                self.more = False
            appended = self._sync_appended()  # (not inside an `or`: it must always run)
            changed = changed or n_tasks != 0 or appended
        changed = self._sync_running() or changed
        if not self.more:  # (else the next call must not take the timeline for folded)
            self._synced_version = tl.version
        if changed:
            self.version += 1
        return changed

    @property
    def has_chunks(self) -> bool:
        """Whether some tasks share a chunk (the bars then shade every other chunk)."""
        return self._has_chunks

    @property
    def lane_count(self) -> int:
        """Rows of the chart."""
        return len(self.tasks)

    @overload
    def x_of(self, t_ns: np.ndarray) -> np.ndarray: ...
    @overload
    def x_of(self, t_ns: int) -> float: ...

    def x_of(self, t_ns: np.ndarray | int) -> np.ndarray | float:
        """Seconds from the run's t0."""
        return (np.asarray(t_ns, np.int64) - self.timeline.t0_ns) * NS

    @property
    def live(self) -> bool:
        """Whether some bar is still running (stretching to the live edge)."""
        return len(self._running) > 0

    @property
    def now_x(self) -> float:
        """The live edge in seconds from t0."""
        return self._now_x

    def _ensure_lanes(self, n: int) -> None:
        """At least ``n`` rows in every layer."""
        for layer in (self.tasks, self.intervals, self.spans):
            while len(layer) < n:
                layer.append(LaneSeries())

    def _sync_lanes(self) -> bool:
        """One series per lane in each layer; returns whether the lanes' records changed."""
        tl = self.timeline
        self._ensure_lanes(len(tl.lanes))
        if self._lanes_seen == tl.lanes:
            return False
        self._lanes_seen = list(tl.lanes)
        # Lane lifetimes as columns (seconds from t0, NaN = unknown) for vectorised drawing.
        def times(name: str) -> np.ndarray:
            ns = np.array([getattr(info, name) for info in tl.lanes], np.int64)
            return np.where(ns >= 0, (ns - tl.t0_ns) * NS, np.nan)

        self._created, self._ready, self._exit = times("created_ns"), times("ready_ns"), times("exit_ns")
        return True

    def _rebuild(self) -> None:
        tl = self.timeline
        self.rebuilt = True
        self._reset_pending = False
        self._run = tl.run
        self._columns = tl.state
        self.tasks, self.intervals, self.spans = [], [], []
        self._mergers = {}
        self._lanes_seen = []
        self._seen_state = tl.state.copy()
        self._written.seen(tl)
        self._groups = chunk_groups(tl.chunk)
        self._has_chunks = bool(np.any(self._groups >= 0))  # (asked at every fold: not a pass per ask)
        self._bar_lane = np.full(len(tl.state), -1, np.int32)
        self._n_intervals = self._n_spans = 0
        self._now_x = float(self.x_of(tl.now_ns)) if tl.run else 0.0
        self._sync_lanes()
        ids = np.flatnonzero((tl.start_ns >= 0) & (tl.lane >= 0))
        ids = ids[np.lexsort((tl.start_ns[ids], tl.lane[ids]))]
        self._insert(ids)
        self._running = ids[tl.state[ids] < TaskState.DONE]
        self._sync_appended()

    def _bar_ends(self, ids: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
        """Where the bars of ``ids`` end (``x0``: their starts, if already converted)."""
        tl = self.timeline
        end = tl.end_ns[ids]
        x1 = self.x_of(end)
        no_end = end < 0
        if np.any(no_end):
            x1[no_end] = (self.x_of(tl.start_ns[ids]) if x0 is None else x0)[no_end]
        x1[tl.state[ids] < TaskState.DONE] = max(self._now_x, 0.0)
        return x1

    def _insert(self, ids: np.ndarray) -> None:
        """Add bars for ``ids`` (started, with a lane) to their lanes."""
        if len(ids) == 0:
            return
        tl = self.timeline
        lanes = tl.lane[ids]
        order = np.argsort(lanes, kind="stable")
        ids, lanes = ids[order], lanes[order]
        self._ensure_lanes(int(lanes[-1]) + 1)  # a task may name a lane before its LaneInfo arrives
        x0 = self.x_of(tl.start_ns[ids])
        x1 = self._bar_ends(ids, x0)
        rank = RANK_OF_STATE[tl.state[ids]]
        cuts = np.flatnonzero(lanes[1:] != lanes[:-1]) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(ids)], strict=True):
            self.tasks[int(lanes[a])].extend(x0[a:b], x1[a:b], rank[a:b], ids[a:b], self._groups[ids[a:b]])
        self._bar_lane[ids] = lanes

    def _sync_tasks(self, limit: int | None = None) -> int:
        """Apply task changes (the first ``limit`` of them by id, see :meth:`sync`); how many, or -1
        if something moved so that only a rebuild will do."""
        tl = self.timeline
        # Only the blocks of ids written since the last fold are compared (a live run's front).
        seen = self._seen_state
        changed = changed_ids(self._written.ranges(tl), lambda part: tl.state[part] != seen[part])
        # By id: a lane's tasks start in id order (a worker takes its chunks in submission order),
        # so the bars of a part extend their lanes at the end, as a whole fold's do.
        self.more = limit is not None and len(changed) > limit
        self._written.seen(tl, below=int(changed[limit]) if self.more else None)
        if len(changed) == 0:
            return 0
        if self.more:
            changed = changed[:limit]
        self._seen_state[changed] = tl.state[changed]
        ids = changed[(tl.start_ns[changed] >= 0) & (tl.lane[changed] >= 0)]
        known = self._bar_lane[ids] >= 0
        old, new = ids[known], ids[~known]
        if np.any(self._bar_lane[old] != tl.lane[old]):
            return -1  # a bar changed lanes (never expected): start over
        self._insert(new)
        if len(old) and not self._update(old):
            return -1
        started = new[tl.state[new] < TaskState.DONE]
        if len(started):
            self._running = np.union1d(self._running, started)
        return len(changed)

    def _update(self, ids: np.ndarray) -> bool:
        """New end and state of bars already drawn."""
        tl = self.timeline
        lanes = tl.lane[ids]
        for lane in np.unique(lanes):
            sel = ids[lanes == lane]
            series = self.tasks[int(lane)]
            pos = series.locate(self.x_of(tl.start_ns[sel]), sel)
            if np.any(pos < 0):
                return False  # its start moved (never expected): start over
            series.update(pos, x1=self._bar_ends(sel), rank=RANK_OF_STATE[tl.state[sel]])
        return True

    def _sync_running(self) -> bool:
        """Stretch running bars to the live edge; returns whether the live edge moved."""
        tl = self.timeline
        now_x = float(self.x_of(tl.now_ns)) if tl.run else 0.0
        moved = now_x != self._now_x
        self._now_x = now_x
        if len(self._running):
            self._running = self._running[tl.state[self._running] < TaskState.DONE]
            if moved and len(self._running):  # (bars started since were given this edge already)
                self._update(self._running)
        return moved

    def _sync_appended(self) -> bool:
        """Fold in new rows of the append-only interval and span columns; whether there were any."""
        tl = self.timeline
        self._sync_lanes()
        before = self._n_intervals + self._n_spans
        rows = tl.intervals.data[self._n_intervals :]
        self._extend(self.intervals, rows, rows["state"], np.arange(self._n_intervals, len(tl.intervals)))
        self._n_intervals = len(tl.intervals)
        rows = tl.spans.data[self._n_spans :]
        self._extend(self.spans, rows, np.zeros(len(rows), np.uint8), rows["label"])
        self._n_spans = len(tl.spans)
        return self._n_intervals + self._n_spans != before

    def _extend(self, target: list[LaneSeries], rows: np.ndarray, rank: np.ndarray, key: np.ndarray) -> None:
        if len(rows) == 0:
            return
        lanes = rows["lane"]
        self._ensure_lanes(int(lanes.max()) + 1)
        x0 = self.x_of(rows["start_ns"])
        x1 = np.where(rows["end_ns"] >= 0, self.x_of(rows["end_ns"]), x0)
        for lane in np.unique(lanes):
            if lane < 0:
                continue
            sel = lanes == lane
            target[int(lane)].extend(x0[sel], x1[sel], rank[sel], key[sel])

    # ---- queries --------------------------------------------------------------------------------

    def frame(self, vx0: float, vx1: float, px: float, lanes: range, screen: bool = False) -> Frame:
        """What to paint in the view (vx0, vx1) at ``px`` seconds per pixel for rows ``lanes``.

        ``screen``: for the chart on screen, whose strip is drawn as pictures (no strip
        rectangles, and no merged interval rectangles, which only exports without a strip use).
        """
        if screen:
            return Frame(
                tasks=merge_lanes(self._merging(self.tasks, MAX), lanes, vx0, vx1, px),
                intervals=Rects.empty(),
                lifecycle=self._lifecycle(vx0, vx1, px, lanes),
                spans=merge_lanes(self._merging(self.spans, MAX), lanes, vx0, vx1, px),
                strip=StripFrame({}),
                strip_images=tuple(self.strip.images(vx0, vx1, px, lanes)),
            )
        return Frame(
            tasks=merge_lanes(self._merging(self.tasks, MAX), lanes, vx0, vx1, px),
            intervals=merge_lanes(self._merging(self.intervals, DOMINANT), lanes, vx0, vx1, px),
            lifecycle=self._lifecycle(vx0, vx1, px, lanes),
            spans=merge_lanes(self._merging(self.spans, MAX), lanes, vx0, vx1, px),
            strip=self.strip.frame(vx0, vx1, px, lanes),
        )

    def _merging(self, layer: list[LaneSeries], mode: str) -> list[LaneMerger]:
        """The (cached) merger of each series of a layer."""
        out = []
        for series in layer:
            merger = self._mergers.get(id(series))
            if merger is None or merger.series is not series:
                merger = self._mergers[id(series)] = LaneMerger(series, mode)
            out.append(merger)
        return out

    def _lifecycle(self, vx0: float, vx1: float, px: float, lanes: range) -> Rects:
        """NEW (created..ready) and TERMINATED (exit..end of view) from the lanes' own records."""
        rows = np.arange(len(self._created))
        rows = rows[(rows >= lanes.start) & (rows < lanes.stop)]
        created, ready, exit_ = self._created[rows], self._ready[rows], self._exit[rows]
        new = ~np.isnan(created) & ~np.isnan(ready) & (ready >= created)
        term = ~np.isnan(exit_)
        x0 = np.concatenate((created[new], exit_[term]))
        x1 = np.concatenate((ready[new], np.maximum(exit_[term], vx1)))
        lane = np.concatenate((rows[new], rows[term])).astype(np.int32)
        code = np.concatenate((np.full(int(new.sum()), WorkerState.NEW, np.uint8),
                               np.full(int(term.sum()), WorkerState.TERMINATED, np.uint8)))
        keep = (x1 > vx0) & (x0 < vx1)
        x0, x1 = x0[keep], np.maximum(x1[keep], x0[keep] + px)
        n = len(x0)
        return Rects(np.clip(x0, vx0 - px, vx1 + px), np.clip(x1, vx0 - px, vx1 + px), lane[keep], code[keep],
                     np.zeros(n, np.uint8), np.full(n, -1, np.int64))

    def task_at(self, x: float, lane: int, tol: float) -> int:
        """The task whose bar is at ``x`` on ``lane`` (or within ``tol`` seconds), else -1."""
        if not 0 <= lane < len(self.tasks):
            return -1
        series = self.tasks[lane]
        pos = series.nearest(x, tol)
        return int(series.key[pos]) if pos >= 0 else -1

    def span_at(self, x: float, lane: int, tol: float) -> tuple[int, float, float] | None:
        """The wait span at ``x`` on ``lane`` (or within ``tol``): its label index and its interval (s)."""
        if not 0 <= lane < len(self.spans):
            return None
        series = self.spans[lane]
        pos = series.nearest(x, tol)
        return (int(series.key[pos]), float(series.x0[pos]), float(series.x1[pos])) if pos >= 0 else None

    def state_at(self, x: float, lane: int) -> tuple[WorkerState, float, float] | None:
        """The worker state drawn at ``x`` on ``lane``'s strip, with its interval (seconds)."""
        info = self.lane_info(lane)
        if info is not None:
            if info.exit_ns >= 0 and x >= self.x_of(info.exit_ns):
                return WorkerState.TERMINATED, float(self.x_of(info.exit_ns)), max(x, self._now_x)
            if 0 <= info.created_ns <= info.ready_ns and self.x_of(info.created_ns) <= x < self.x_of(info.ready_ns):
                return WorkerState.NEW, float(self.x_of(info.created_ns)), float(self.x_of(info.ready_ns))
        if not 0 <= lane < len(self.intervals):
            return None
        series = self.intervals[lane]
        pos = series.nearest(x, 0.0)
        if pos < 0:
            return None
        return WorkerState(int(series.rank[pos])), float(series.x0[pos]), float(series.x1[pos])

    def x_extent(self) -> tuple[float, float]:
        """Seconds spanned by everything drawn (bars, intervals, lifecycles, the live edge)."""
        if self._extent[0] == self.version:
            return self._extent[1]
        lo, hi = [0.0], [self._now_x]
        for group in (self.tasks, self.intervals, self.spans):
            lo += [float(s.x0[0]) for s in group if s.n]
            hi += [float(s.xmax[-1]) for s in group if s.n]
        for times in (self._created, self._ready, self._exit):
            if len(times) and not np.all(np.isnan(times)):
                lo.append(float(np.nanmin(times)))
                hi.append(float(np.nanmax(times)))
        extent = (min(lo), max(hi))
        self._extent = (self.version, extent)
        return extent

    def lane_info(self, lane: int) -> LaneInfo | None:
        """The LaneInfo of a row, if the engine sent one."""
        lanes = self.timeline.lanes
        return lanes[lane] if 0 <= lane < len(lanes) else None
