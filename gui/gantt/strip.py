"""The worker-state strip: per lane, the shares of on-CPU, ready and waiting time, stacked.

A window 12 % on a CPU shows a green band 12 % of the strip's height: proportions, not a majority
label. For a view, each visible lane's intervals are cut at pixel columns (cumulative sums and
``np.interp``, no Python loop per interval), each column's shares are quantised to
1/``LEVELS`` of the strip height, equal neighbours merge, and each state is one (n, 4) x/y/w/h
array for a single ``drawRects`` (see :mod:`procviz.gui.gantt.paint`). From the bottom of the
strip up: running, ready, waiting. Exact sums are in the tooltip (:meth:`StateStrip.tooltip_lines`).

On screen the strip is drawn as one small picture per lane instead (:meth:`StateStrip.images`:
a state code per pixel column and share level, ``LEVELS`` rows high): the same pixels from one
image draw per lane, where the rectangles took tens of thousands of fills a frame at a million
tasks. Exports keep the rectangles (an SVG stays vector).

No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from procviz.engine.events import WorkerState
from procviz.engine.timeline import Timeline
from procviz.gui.gantt import layout

LEVELS = 16  # shares are drawn in 1/16 steps of the strip's height
MAX_COLUMNS = 4096  # per lane and view, whatever the pixel size
STACK = (WorkerState.RUNNING, WorkerState.READY, WorkerState.WAITING)  # bottom to top
NS = 1e-9


@dataclass(frozen=True, slots=True)
class StripFrame:
    """Rectangles to paint, one C-contiguous (n, 4) float64 x/y/w/h array per state."""

    xywh: dict[WorkerState, np.ndarray]

    def __len__(self) -> int:
        return sum(len(a) for a in self.xywh.values())


@dataclass(frozen=True, slots=True)
class StripImage:
    """One lane's strip as pixels: ``codes`` (``LEVELS`` rows, top first; a column per screen pixel)
    of 0 (nothing), then 1 + the index in STACK, to be drawn over the data rectangle (x, y, w, h)."""

    x: float
    y: float
    w: float
    h: float
    codes: np.ndarray  # (LEVELS, ncol) uint8, C-contiguous


class _LaneCurves:
    """One lane's intervals as cumulative curves over time (seconds from t0), in over-allocated
    columns: a live run appends a lane's new intervals in place (amortised O(new))."""

    _CURVES = ("_x", "_cpu", "_ready", "_covered")  # two points per interval: its start and end
    _x: np.ndarray
    _cpu: np.ndarray
    _ready: np.ndarray
    _covered: np.ndarray

    def __init__(self, rows: np.ndarray, t0: int) -> None:
        self.n = 0
        self._rows = rows[:0].copy()
        for name in self._CURVES:
            setattr(self, name, np.zeros(0))
        self.append(rows, t0)

    @property
    def x(self) -> np.ndarray:
        """start0, end0, start1, end1, ... (seconds)."""
        return self._x[: 2 * self.n]

    @property
    def start(self) -> np.ndarray:
        return self._x[0 : 2 * self.n : 2]

    @property
    def end(self) -> np.ndarray:
        return self._x[1 : 2 * self.n : 2]

    @property
    def cpu(self) -> np.ndarray:
        """Cumulative on-CPU ns at each x."""
        return self._cpu[: 2 * self.n]

    @property
    def ready(self) -> np.ndarray:
        return self._ready[: 2 * self.n]

    @property
    def covered(self) -> np.ndarray:
        return self._covered[: 2 * self.n]

    @property
    def rows(self) -> np.ndarray:
        """The lane's interval rows, sorted by start."""
        return self._rows[: self.n]

    def append(self, rows: np.ndarray, t0: int) -> None:
        """Add intervals that start no earlier than the last one's start."""
        rows = rows[np.argsort(rows["start_ns"], kind="stable")]
        n, k = self.n, len(rows)
        if n + k > len(self._rows):
            cap = max(n + k, 2 * len(self._rows), 64)
            grown = np.zeros(cap, self._rows.dtype)
            grown[:n] = self._rows[:n]
            self._rows = grown
            for name in self._CURVES:
                old = getattr(self, name)
                new = np.zeros(2 * cap)
                new[: 2 * n] = old[: 2 * n]
                setattr(self, name, new)
        self._rows[n : n + k] = rows
        self._x[2 * n : 2 * (n + k) : 2] = (rows["start_ns"] - t0) * NS
        self._x[2 * n + 1 : 2 * (n + k) : 2] = (rows["end_ns"] - t0) * NS
        length = rows["end_ns"] - rows["start_ns"]
        # Intervals that carry a label but no counters (hand-made or foreign data): draw the label.
        bare = (rows["cpu_ns"] <= 0) & (rows["ready_ns"] <= 0)
        cpu = np.where(bare & (rows["state"] == WorkerState.RUNNING), length, np.maximum(rows["cpu_ns"], 0))
        ready = np.where(bare & (rows["state"] == WorkerState.READY), length, np.maximum(rows["ready_ns"], 0))
        for name, values in (("_cpu", cpu), ("_ready", ready), ("_covered", length)):
            curve = getattr(self, name)
            base = curve[2 * n - 1] if n else 0.0
            c = base + np.cumsum(values.astype(np.float64))
            curve[2 * n + 1 : 2 * (n + k) : 2] = c
            curve[2 * n : 2 * (n + k) : 2] = np.r_[base, c[:-1]]
        self.n = n + k


def _shares(c: _LaneCurves, vx0: float, vx1: float, px: float) -> tuple[np.ndarray, ...] | None:
    """Pixel-column edges over the view and, per column, whether an interval covers it and the
    running and ready shares in 1/LEVELS steps; None when the lane has nothing in view."""
    lo, hi = max(vx0, float(c.x[0])), min(vx1, float(c.x[-1]))
    if not hi > lo:
        return None
    step = max(px, (hi - lo) / MAX_COLUMNS, 1e-12)
    edges = np.append(np.arange(lo, hi, step), hi)
    if len(edges) < 2:
        return None
    cov = np.diff(np.interp(edges, c.x, c.covered))
    cpu = np.diff(np.interp(edges, c.x, c.cpu))
    ready = np.diff(np.interp(edges, c.x, c.ready))
    keep = cov > 0
    safe = np.where(keep, cov, 1.0)
    q_run = np.rint(np.clip(cpu / safe, 0, 1) * LEVELS)
    q_ready = np.minimum(np.rint(np.clip(ready / safe, 0, 1) * LEVELS), LEVELS - q_run)
    return edges, keep, q_run, q_ready


class StateStrip:
    """The strip of every lane of one Timeline, kept in step with its interval column."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._seen: tuple[int, object] = (-1, None)
        self._n = 0  # interval rows folded in
        self._lanes: dict[int, _LaneCurves] = {}

    def _sync(self) -> None:
        """Fold in the interval rows added since the last call (a live run appends at each lane's end)."""
        tl = self.timeline
        key = (tl.t0_ns, tl.run)
        n = len(tl.intervals)
        if key != self._seen or n < self._n:
            self._seen, self._n, self._lanes = key, 0, {}
        if n == self._n:
            return
        iv = tl.intervals.data[self._n :]
        self._n = n
        order = np.argsort(iv["lane"], kind="stable")
        lanes = iv["lane"][order]
        cuts = np.flatnonzero(lanes[1:] != lanes[:-1]) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(order)], strict=True):
            lane, rows = int(lanes[a]), iv[order[a:b]]
            old = self._lanes.get(lane)
            if old is None:
                self._lanes[lane] = _LaneCurves(rows, tl.t0_ns)
            elif rows["start_ns"].min() >= old.rows["start_ns"][-1]:
                old.append(rows, tl.t0_ns)
            else:  # an interval arrived out of order: redo the lane
                self._lanes[lane] = _LaneCurves(np.concatenate((old.rows, rows)), tl.t0_ns)

    def frame(self, vx0: float, vx1: float, px: float, lanes: range) -> StripFrame:
        """The stacked rectangles for the view (vx0, vx1) at ``px`` seconds per pixel."""
        self._sync()
        parts: dict[WorkerState, list[np.ndarray]] = {s: [] for s in STACK}
        for lane in lanes:
            curves = self._lanes.get(lane)
            if curves is None:
                continue
            for state, xywh in self._lane_rects(curves, lane, vx0, vx1, px).items():
                parts[state].append(xywh)
        return StripFrame({s: np.ascontiguousarray(np.concatenate(p)) if p else np.zeros((0, 4))
                           for s, p in parts.items()})

    def images(self, vx0: float, vx1: float, px: float, lanes: range) -> list[StripImage]:
        """The strip of each visible lane as a picture (see the module docstring)."""
        self._sync()
        out = []
        for lane in lanes:
            curves = self._lanes.get(lane)
            shares = None if curves is None else _shares(curves, vx0, vx1, px)
            if shares is None:
                continue
            edges, keep, q_run, q_ready = shares
            level = np.arange(LEVELS)[:, None]  # row 0 is the top of the strip
            run_from, ready_from = LEVELS - q_run[None, :], LEVELS - q_run[None, :] - q_ready[None, :]
            codes = np.where(level >= run_from, 1, np.where(level >= ready_from, 2, 3)).astype(np.uint8)
            codes[:, ~keep] = 0
            step = edges[1] - edges[0]
            out.append(StripImage(float(edges[0]), lane + layout.STRIP_TOP, step * (len(edges) - 1),
                                  layout.STRIP_HEIGHT, np.ascontiguousarray(codes)))
        return out

    @staticmethod
    def _lane_rects(c: _LaneCurves, lane: int, vx0: float, vx1: float, px: float) -> dict[WorkerState, np.ndarray]:
        shares = _shares(c, vx0, vx1, px)
        if shares is None:
            return {}
        edges, keep, q_run, q_ready = shares
        h = layout.STRIP_HEIGHT
        bottom = lane + layout.STRIP_TOP + h
        # Each band merges its own equal neighbours (a band's rectangle depends on its own share and
        # on those below it only), and columns no interval covers are dropped: a third to a half
        # fewer rectangles than merging on the whole stack, the same pixels.
        out = {}
        below = np.zeros(len(q_run))
        for state, share in zip(STACK, (q_run, q_ready, LEVELS - q_run - q_ready), strict=True):
            top = below + share
            code = np.where(keep & (share > 0), below * (LEVELS + 1) + top, -1)
            starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
            ends = np.r_[starts[1:], len(code)]
            shown = code[starts] >= 0
            starts, ends = starts[shown], ends[shown]
            xywh = np.empty((len(starts), 4))
            xywh[:, 0] = edges[starts]
            xywh[:, 2] = edges[ends] - edges[starts]
            xywh[:, 3] = share[starts] / LEVELS * h
            xywh[:, 1] = bottom - top[starts] / LEVELS * h
            below = top
            out[state] = xywh
        return out

    def tooltip_lines(self, label: str, lane: int, x: float) -> list[str]:
        """The interval under ``x`` on ``lane``: its label state and exact on-CPU / ready / waiting."""
        self._sync()
        c = self._lanes.get(lane)
        if c is None:
            return []
        i = int(np.searchsorted(c.start, x, side="right")) - 1
        if i < 0 or x > c.end[i]:
            return []
        row = c.rows[i]
        length = int(row["end_ns"] - row["start_ns"])
        cpu, ready = int(row["cpu_ns"]), int(row["ready_ns"])
        waiting = max(length - cpu - ready, 0)

        def part(ns: int) -> str:
            return f"{ns / 1e6:.2f} ms ({100 * ns / length:.0f}%)" if length else "0 ms"

        return [label,
                f"mostly {WorkerState(int(row['state'])).name.lower()} from {c.start[i]:.4f} s "
                f"for {length / 1e6:.2f} ms",
                f"running (on-CPU) {part(cpu)}",
                f"ready (run queue) {part(ready)}",
                f"waiting (blocked) {part(waiting)}"]
