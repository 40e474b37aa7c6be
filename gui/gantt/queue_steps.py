"""The ready queue as a step series, folded in incrementally as tasks change (no Qt here).

A task joins the queue at submission and leaves it when a worker starts it, or when it ends
without starting (cancelled). :class:`QueueSteps` keeps the joins and leaves in time order as one
row per instant and kind (the joins at an instant are one row with their count, so are the
leaves): a run's 100k submissions at one instant are one row, not 100k. It keeps the queue
length after each row, and on :meth:`QueueSteps.update` adds only the events of tasks whose
state or submission changed since the last call, reading the changed tasks as a slice of the
columns when they are a run of ids (a run's submissions, the tasks a worker ended), so a run's
start costs a few passes over its columns, not a gather per task. A live run's events arrive at
the tail, so an update costs a pass over a byte per task plus the new events, not a sort of two
million times: rows later than every known one are appended in place to over-allocated columns
(amortised O(new)); only a row landing among the known ones rebuilds the columns from its
position on (an event at a known instant adds to that row's count).
"""

from __future__ import annotations

import numpy as np

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline
from procviz.engine.written_blocks import WrittenBlocks, changed_ids

NS = 1e-9
DONE = int(TaskState.DONE)  # (an int: numpy compares an IntEnum through int64, several times slower)


def _ids(rows: slice | np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The task ids of ``rows`` (a slice of ids, or ids) where ``mask`` holds."""
    if isinstance(rows, slice):
        return np.flatnonzero(mask) + rows.start
    return rows[mask]


def leave_ns(tl: Timeline, ids: np.ndarray | slice) -> np.ndarray:
    """When tasks ``ids`` (ids, or a slice of them) left the queue: their start, or (ended before
    starting: cancelled by a Stop, failed with a broken pool) their end; -1 if not yet.

    The engine gives such a task the time it ended it; files from before it did give none: such a
    task left the queue by the timeline's live edge at the latest, as the fold sees it (for a
    file, the run's end, as the Chrome trace's queue counter does). Kept in the queue, it held the
    line up after a Stop.
    """
    start, end = tl.start_ns[ids], tl.end_ns[ids]
    ended = tl.state[ids] >= TaskState.DONE
    end = np.where(ended & (start < 0) & (end < 0), max(tl.now_ns, 0), end)
    left_without_start = (start < 0) & (end >= 0) & ended
    return np.where(start >= 0, start, np.where(left_without_start, end, -1))


def aggregate(keys: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` sorted, one row per distinct key with the sum of its ``steps``: a run's submissions
    at one instant are one row (a count), not one row a task."""
    if not np.all(keys[1:] >= keys[:-1]):  # (a live run's joins, or its leaves, often come in order)
        order = np.argsort(keys, kind="stable")
        keys, steps = keys[order], steps[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    if len(starts) == len(keys):
        return keys, steps
    return keys[starts], np.add.reduceat(steps, starts)


class QueueSteps:
    """Queue events of one Timeline in time order, a row per instant and kind (arrivals first).

    After :meth:`update`: ``x`` the rows' times (seconds from t0), ``y`` the queue length after
    an instant's last row (0 for its arrivals' row when leaves follow at the same instant, so a
    maximum over rows equals the maximum of the step function), ``arrivals`` the distinct submission times
    (seconds from t0), and ``first`` / ``first_arrival`` the first positions that changed.
    """

    def __init__(self) -> None:
        self._columns: np.ndarray | None = None  # the state column the events were taken from
        self._written = WrittenBlocks()  # the blocks of task ids compared at the next update
        self._clear(0)

    def _clear(self, n: int) -> None:
        self._written.forget()  # (every task compared at the next update)
        # Rows, over-allocated; the first _n are filled (see the properties below).
        self._kb = np.zeros(0, np.int64)  # 2 * time + (0 arrival | 1 leave): distinct, sorts arrivals first
        self._sb = np.zeros(0, np.int64)  # +joins or -leaves at that key
        self._cb = np.zeros(0, np.int64)  # queue length after each row
        self._xb = np.zeros(0, np.float64)
        self._yb = np.zeros(0, np.float64)
        self._n = 0
        # A task joins and leaves at most once: room for all its events from the start (np.empty
        # takes no memory until written), so a live run never copies the columns to grow them.
        self._reserve(2 * n)
        self._state = np.zeros(n, np.uint8)
        self._sub = np.full(n, -1, np.int64)  # the submission counted per task (-1: none yet)
        self._left = np.zeros(n, bool)  # whether the task's leave is counted
        self._ab_ns = np.zeros(0, np.int64)  # distinct submission times, over-allocated
        self._ab = np.zeros(0, np.float64)  # ... in seconds from t0
        self._arrival_ns = self._ab_ns[:0]
        self.arrivals = self._ab[:0]
        self.first = self.first_arrival = 0
        self.peak = 0.0
        self.more = False  # the last update left changed tasks for the next one (see update)

    @property
    def _keys(self) -> np.ndarray:
        return self._kb[: self._n]

    @property
    def x(self) -> np.ndarray:
        """Row times, seconds from t0 (a view: do not keep it across updates)."""
        return self._xb[: self._n]

    @property
    def y(self) -> np.ndarray:
        """Queue length after the last row of each instant, 0 for the instant's earlier row."""
        return self._yb[: self._n]

    def _reserve(self, total: int) -> None:
        if total <= len(self._kb):
            return
        cap = max(total, 2 * len(self._kb), 1024)
        for name in ("_kb", "_sb", "_cb", "_xb", "_yb"):
            old = getattr(self, name)
            new = np.empty(cap, old.dtype)  # (rows past _n are never read)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def update(self, tl: Timeline, limit: int | None = None) -> bool:
        """Fold in what changed in ``tl`` since the last call; whether any event was added.

        ``limit``: fold in at most this many changed tasks (``more`` then says whether some are
        left for the next call), so a run's first million submissions are spread over a few
        calls instead of one long one.
        """
        if tl.state is not self._columns or len(tl.state) != len(self._state):
            self._columns = tl.state  # new arrays: another run or file
            self._clear(len(tl.state))
        # Only the blocks of ids written since the last update are compared (a live run's front).
        state, sub_seen = self._state, self._sub
        changed = changed_ids(self._written.ranges(tl), lambda part: (tl.state[part] != state[part])
                              | (tl.submitted_part(part) != sub_seen[part]))
        self.more = limit is not None and len(changed) > limit
        self._written.seen(tl, below=int(changed[limit]) if self.more else None)
        if self.more:
            changed = changed[:limit]
        if len(changed) == 0:
            self.first, self.first_arrival = len(self._keys), len(self._arrival_ns)
            return False
        # The changed tasks are mostly a run of ids (a run's submissions, the tasks a worker ended):
        # then every column is read as a slice (a view), not gathered task by task.
        lo, hi = int(changed[0]), int(changed[-1]) + 1
        rows: slice | np.ndarray = slice(lo, hi) if hi - lo == len(changed) else changed
        self._state[rows] = tl.state[rows]
        sub = tl.submitted_part(rows)
        old_sub = self._sub[rows]
        if np.any((old_sub >= 0) & (sub != old_sub)):  # a submission time moved (never expected)
            self._clear(len(tl.state))
            return self.update(tl)
        joining = (sub >= 0) & (old_sub < 0)
        self._sub[rows] = sub
        # Only a task started, or ended without a start, can have left (none at a run's submissions).
        may_leave = (sub >= 0) & ((tl.start_ns[rows] >= 0) | (tl.state[rows] >= DONE)) & ~self._left[rows]
        candidates = _ids(rows, may_leave)
        leave = leave_ns(tl, candidates)
        left = leave >= 0
        leave_at = np.maximum(leave[left], sub[may_leave][left])
        self._left[candidates[left]] = True
        join_at = sub[joining]
        keys = np.concatenate((join_at * 2, leave_at * 2 + 1))
        steps = np.concatenate((np.ones(len(join_at), np.int64), -np.ones(len(leave_at), np.int64)))
        self._insert(keys, steps, tl.t0_ns)
        self._insert_arrivals(join_at, tl.t0_ns)
        return len(keys) > 0

    def _insert(self, keys: np.ndarray, steps: np.ndarray, t0_ns: int) -> None:
        if len(keys) == 0:
            self.first = self._n
            return
        keys, steps = aggregate(keys, steps)
        n = self._n
        kb, sb = self._kb, self._sb
        # An instant already known takes the new events into its row's count; the others are new rows.
        at = np.searchsorted(self._keys, keys, side="left")
        hit = at < n
        hit[hit] = kb[at[hit]] == keys[hit]
        first = int(at[0])
        if hit.any():
            sb[at[hit]] += steps[hit]
            keys, steps, at = keys[~hit], steps[~hit], at[~hit]
        k = len(keys)
        self._reserve(n + k)
        kb, sb = self._kb, self._sb
        if k and int(at[0]) < n:  # some land among the known events: rebuild from the first of them on
            tail_keys = np.insert(kb[first:n], at - first, keys)
            tail_steps = np.insert(sb[first:n], at - first, steps)
            kb[first : n + k], sb[first : n + k] = tail_keys, tail_steps
        elif k:  # all after the known ones (a live run): appended in place
            kb[n : n + k], sb[n : n + k] = keys, steps
        self._n = end = n + k
        base = int(self._cb[first - 1]) if first else 0
        np.cumsum(sb[first:end], out=self._cb[first:end])  # (in place: no temporaries of a million rows)
        if base:
            self._cb[first:end] += base
        # The last event of an instant may have become an earlier one: redo from the one before.
        lo = max(first - 1, 0)
        t = kb[lo:end] >> 1
        last = np.r_[t[1:] != t[:-1], True]
        dropped = self._yb[lo] if lo < n else 0.0  # (the one before may lose its count)
        t -= t0_ns
        np.multiply(t, NS, out=self._xb[lo:end])
        np.multiply(self._cb[lo:end], last, out=self._yb[lo:end])
        self.first = lo
        if first < n or dropped >= self.peak:  # counts after `first` moved, or the peak may have gone
            self.peak = float(self.y.max())
        else:
            self.peak = max(self.peak, float(self._yb[lo:end].max()))

    def _insert_arrivals(self, sub_ns: np.ndarray, t0_ns: int) -> None:
        # Distinct times; submissions mostly come in time order (then no sort is needed).
        ordered = sub_ns if np.all(sub_ns[1:] >= sub_ns[:-1]) else np.sort(sub_ns)
        new = ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered
        known = self._arrival_ns
        at = np.searchsorted(known, new)
        new = new[(at >= len(known)) | (known[np.minimum(at, len(known) - 1)] != new)] if len(known) else new
        if len(new) == 0:
            self.first_arrival = len(self._arrival_ns)
            return
        n, k = len(known), len(new)
        at = np.searchsorted(known, new)
        first = int(at[0])
        if n + k > len(self._ab):  # over-allocated like the events: a live run appends
            grown_ns = np.zeros(max(n + k, 2 * len(self._ab), 1024), np.int64)
            grown_ns[:n] = known
            grown = np.zeros(len(grown_ns))
            grown[:n] = self.arrivals
            self._ab_ns, self._ab = grown_ns, grown
        if first < n:
            self._ab_ns[first : n + k] = np.insert(known[first:], at - first, new)
        else:
            self._ab_ns[n : n + k] = new
        self._arrival_ns = self._ab_ns[: n + k]
        self.arrivals = self._ab[: n + k]
        self.arrivals[first:] = (self._arrival_ns[first:] - t0_ns) * NS
        self.first_arrival = first

    def end_ns(self, tl: Timeline) -> int:
        """Where the step series ends: the live edge, or the last event if later."""
        last = int(self._keys[-1] >> 1) if len(self._keys) else int(tl.now_ns)
        return max(int(tl.now_ns), last)
