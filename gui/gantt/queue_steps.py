"""The ready queue as a step series, folded in incrementally as tasks change (no Qt here).

A task joins the queue at submission and leaves it when a worker starts it, or when it ends
without starting (cancelled). Every join and leave is an event; :class:`QueueSteps` keeps them in
time order with the queue length after each, and on :meth:`QueueSteps.update` adds only the
events of tasks whose state or submission changed since the last call. A live run's events
arrive at the tail, so an update costs a pass over a byte per task plus the new events, not a
sort of two million times.
"""

from __future__ import annotations

import numpy as np

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline

NS = 1e-9


def leave_ns(tl: Timeline, ids: np.ndarray) -> np.ndarray:
    """When tasks ``ids`` left the queue: their start, or (cancelled before starting) their end; -1 if not yet."""
    start, end = tl.start_ns[ids], tl.end_ns[ids]
    left_without_start = (start < 0) & (end >= 0) & (tl.state[ids] >= TaskState.DONE)
    return np.where(start >= 0, start, np.where(left_without_start, end, -1))


class QueueSteps:
    """Queue events of one Timeline in time order (at one instant, arrivals first).

    After :meth:`update`: ``x`` the event times (seconds from t0), ``y`` the queue length after
    the last event of each instant (0 for the earlier events of an instant, so a maximum over
    events equals the maximum of the step function), ``arrivals`` the distinct submission times
    (seconds from t0), and ``first`` / ``first_arrival`` the first positions that changed.
    """

    def __init__(self) -> None:
        self._columns: np.ndarray | None = None  # the state column the events were taken from
        self._clear(0)

    def _clear(self, n: int) -> None:
        self._keys = np.zeros(0, np.int64)  # 2 * time + (0 arrival | 1 leave): sorts arrivals first
        self._steps = np.zeros(0, np.int64)
        self._counts = np.zeros(0, np.int64)
        self._state = np.zeros(n, np.uint8)
        self._sub = np.full(n, -1, np.int64)  # the submission counted per task (-1: none yet)
        self._left = np.zeros(n, bool)  # whether the task's leave is counted
        self._arrival_ns = np.zeros(0, np.int64)
        self.x = np.zeros(0, np.float64)
        self.y = np.zeros(0, np.float64)
        self.arrivals = np.zeros(0, np.float64)
        self.first = self.first_arrival = 0
        self.peak = 0.0

    def update(self, tl: Timeline) -> bool:
        """Fold in what changed in ``tl`` since the last call; whether any event was added."""
        if tl.state is not self._columns or len(tl.state) != len(self._state):
            self._columns = tl.state  # new arrays: another run or file
            self._clear(len(tl.state))
        changed = np.flatnonzero((tl.state != self._state) | (tl.submitted_ns != self._sub))
        if len(changed) == 0:
            self.first, self.first_arrival = len(self._keys), len(self._arrival_ns)
            return False
        self._state[changed] = tl.state[changed]
        sub = tl.submitted_ns[changed]
        old_sub = self._sub[changed]
        if np.any((old_sub >= 0) & (sub != old_sub)):  # a submission time moved (never expected)
            self._clear(len(tl.state))
            return self.update(tl)
        joins = changed[(sub >= 0) & (old_sub < 0)]
        self._sub[changed] = sub
        leave = leave_ns(tl, changed)
        leaving = (sub >= 0) & (leave >= 0) & ~self._left[changed]
        leaves = changed[leaving]
        leave_at = np.maximum(leave[leaving], sub[leaving])
        self._left[leaves] = True
        keys = np.concatenate((tl.submitted_ns[joins] * 2, leave_at * 2 + 1))
        steps = np.concatenate((np.ones(len(joins), np.int64), -np.ones(len(leaves), np.int64)))
        self._insert(keys, steps, tl.t0_ns)
        self._insert_arrivals(tl.submitted_ns[joins], tl.t0_ns)
        return len(keys) > 0

    def _insert(self, keys: np.ndarray, steps: np.ndarray, t0_ns: int) -> None:
        order = np.argsort(keys, kind="stable")
        keys, steps = keys[order], steps[order]
        at = np.searchsorted(self._keys, keys, side="right")
        first = int(at[0]) if len(at) else len(self._keys)
        if len(self._keys):
            all_keys, all_steps = np.insert(self._keys, at, keys), np.insert(self._steps, at, steps)
        else:  # the first update (a file, or a run's first tick): nothing to merge into
            all_keys, all_steps = keys, steps
        counts = np.empty(len(all_keys), np.int64)
        counts[:first] = self._counts[:first]
        base = int(self._counts[first - 1]) if first else 0
        counts[first:] = base + np.cumsum(all_steps[first:])
        self._keys, self._steps, self._counts = all_keys, all_steps, counts
        # The last event of an instant may have become an earlier one: redo from the one before.
        lo = max(first - 1, 0)
        t = all_keys[lo:] >> 1
        last = np.r_[t[1:] != t[:-1], True]
        x = np.empty(len(all_keys))
        y = np.empty(len(all_keys))
        x[:lo], y[:lo] = self.x[:lo], self.y[:lo]
        x[lo:] = (t - t0_ns) * NS
        y[lo:] = np.where(last, counts[lo:], 0)
        self.x, self.y, self.first = x, y, lo
        self.peak = float(y.max()) if len(y) else 0.0

    def _insert_arrivals(self, sub_ns: np.ndarray, t0_ns: int) -> None:
        new = np.unique(sub_ns)
        known = self._arrival_ns
        at = np.searchsorted(known, new)
        new = new[(at >= len(known)) | (known[np.minimum(at, len(known) - 1)] != new)] if len(known) else new
        if len(new) == 0:
            self.first_arrival = len(self._arrival_ns)
            return
        at = np.searchsorted(self._arrival_ns, new)
        self._arrival_ns = np.insert(self._arrival_ns, at, new)
        self.first_arrival = int(at[0])
        arrivals = np.empty(len(self._arrival_ns))
        arrivals[: self.first_arrival] = self.arrivals[: self.first_arrival]
        arrivals[self.first_arrival :] = (self._arrival_ns[self.first_arrival :] - t0_ns) * NS
        self.arrivals = arrivals

    def end_ns(self, tl: Timeline) -> int:
        """Where the step series ends: the live edge, or the last event if later."""
        last = int(self._keys[-1] >> 1) if len(self._keys) else int(tl.now_ns)
        return max(int(tl.now_ns), last)
