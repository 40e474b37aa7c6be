"""Segments of one lane kept sorted by start, in growable numpy columns (no Qt here).

A lane's segments (task bars, state intervals or wait spans) are appended almost always in time
order, so :meth:`LaneSeries.extend` appends in amortised O(k); an out-of-order arrival falls back
to a stable re-sort of that one lane. Besides start and end, the series keeps the running maximum
of the ends: it is monotonic even when segments overlap, so the first segment that can reach into
a view is found with a binary search (see :mod:`procviz.gui.gantt.merge`).
"""

from __future__ import annotations

import numpy as np

_COLUMNS: dict[str, type] = {
    "x0": np.float64,  # start, seconds from the run's t0
    "x1": np.float64,  # end, seconds from the run's t0
    "xmax": np.float64,  # running maximum of x1 over positions 0..i
    "rank": np.uint8,  # what the segment is (merge priority / state code)
    "shade": np.uint8,  # 0/1 alternating per group (Pool chunk) along the lane
    "group": np.int64,  # group id (Pool chunk) used to derive the shade
    "key": np.int64,  # identity: task id, interval row, span label
}


class LaneSeries:
    """Sorted-by-start segments of one lane with O(1) amortised appends."""

    # One backing array per column of _COLUMNS (set in __init__), over-allocated to _cap.
    _x0: np.ndarray
    _x1: np.ndarray
    _xmax: np.ndarray
    _rank: np.ndarray
    _shade: np.ndarray
    _group: np.ndarray
    _key: np.ndarray

    def __init__(self, capacity: int = 256) -> None:
        self._cap = max(int(capacity), 16)
        self.n = 0
        # Change log for caches built on this series (gui.gantt.merge.LaneMerger): every write
        # bumps the generation and records the first position it changed.
        self.generation = 0
        self._touches: list[tuple[int, int]] = []
        for name, dtype in _COLUMNS.items():
            setattr(self, "_" + name, np.zeros(self._cap, dtype=dtype))

    # ---- views of the filled part (cheap; do not keep across appends) ---------------------------

    @property
    def x0(self) -> np.ndarray:
        """Starts (sorted ascending)."""
        return self._x0[: self.n]

    @property
    def x1(self) -> np.ndarray:
        """Ends."""
        return self._x1[: self.n]

    @property
    def xmax(self) -> np.ndarray:
        """Running maximum of the ends (ascending even if segments overlap)."""
        return self._xmax[: self.n]

    @property
    def rank(self) -> np.ndarray:
        """Per-segment code: merge priority for tasks, the state for intervals."""
        return self._rank[: self.n]

    @property
    def shade(self) -> np.ndarray:
        """0/1, flipping whenever the group changes along the lane."""
        return self._shade[: self.n]

    @property
    def key(self) -> np.ndarray:
        """Identity of each segment (task id for bars)."""
        return self._key[: self.n]

    def __len__(self) -> int:
        return self.n

    def touched_since(self, generation: int) -> int | None:
        """First position changed after ``generation`` (None: nothing; 0 when the log is too short)."""
        if generation >= self.generation:
            return None
        if not self._touches or self._touches[0][0] > generation + 1:
            return 0
        return min(pos for gen, pos in self._touches if gen > generation)

    def _touch(self, pos: int) -> None:
        self.generation += 1
        self._touches.append((self.generation, pos))
        if len(self._touches) > 64:
            del self._touches[:32]  # a cache further behind than this just rebuilds

    # ---- writes ---------------------------------------------------------------------------------

    def _reserve(self, total: int) -> None:
        if total <= self._cap:
            return
        cap = max(total, 2 * self._cap)
        for name in _COLUMNS:
            old = getattr(self, "_" + name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, "_" + name, new)
        self._cap = cap

    def extend(self, x0: np.ndarray, x1: np.ndarray, rank: np.ndarray, key: np.ndarray,
               group: np.ndarray | None = None) -> None:
        """Add segments (any order); keeps the lane sorted by start, ties by arrival."""
        k = len(x0)
        if k == 0:
            return
        order = np.argsort(x0, kind="stable")
        x0 = np.asarray(x0, np.float64)[order]
        first = self.n
        if self.n and x0[0] < self._x0[self.n - 1]:
            self._insert_unsorted(x0, np.asarray(x1)[order], np.asarray(rank)[order],
                                  np.asarray(key)[order], None if group is None else np.asarray(group)[order])
            return
        self._reserve(self.n + k)
        end = self.n + k
        self._x0[first:end] = x0
        self._x1[first:end] = np.asarray(x1)[order]
        self._rank[first:end] = np.asarray(rank)[order]
        self._key[first:end] = np.asarray(key)[order]
        self._group[first:end] = np.asarray(key if group is None else group)[order]
        self.n = end
        self._refresh_from(first)
        self._touch(first)

    def _insert_unsorted(self, x0: np.ndarray, x1: np.ndarray, rank: np.ndarray, key: np.ndarray,
                         group: np.ndarray | None) -> None:
        # Rare (a late datagram): merge by a stable sort of the whole lane, old rows first on ties.
        cols = {
            "x0": np.concatenate([self.x0, x0]),
            "x1": np.concatenate([self.x1, x1]),
            "rank": np.concatenate([self.rank, rank]),
            "key": np.concatenate([self.key, key]),
            "group": np.concatenate([self._group[: self.n], key if group is None else group]),
        }
        order = np.argsort(cols["x0"], kind="stable")
        self._reserve(len(order))
        for name, values in cols.items():
            getattr(self, "_" + name)[: len(order)] = values[order]
        self.n = len(order)
        self._refresh_from(0)
        self._touch(0)

    def _refresh_from(self, pos: int) -> None:
        """Recompute the running max of ends and the group shades from ``pos`` on."""
        n = self.n
        if pos >= n:
            return
        self._xmax_from(pos)
        group = self._group[: n]
        # The shade flips at every group change along the lane; continue from the row before pos.
        lo = max(pos, 1)
        if pos == 0:
            self._shade[0] = 0
        if lo < n:
            flips = (group[lo:n] != group[lo - 1 : n - 1]).astype(np.int64)
            self._shade[lo:n] = (np.cumsum(flips) + self._shade[lo - 1]) & 1

    def locate(self, x0: np.ndarray, key: np.ndarray) -> np.ndarray:
        """Positions of existing segments given their start and key (-1 where absent)."""
        x0 = np.asarray(x0, np.float64)
        key = np.asarray(key)
        pos = np.searchsorted(self.x0, x0, side="left")
        ok = pos < self.n
        ok[ok] = self._key[pos[ok]] == key[ok]
        for i in np.flatnonzero(~ok):
            # Several segments share this start (zero-length tasks): scan the tie run.
            p = int(pos[i])
            while p < self.n and self._x0[p] == x0[i] and self._key[p] != key[i]:
                p += 1
            pos[i] = p if p < self.n and self._x0[p] == x0[i] and self._key[p] == key[i] else -1
        return pos

    def update(self, pos: np.ndarray, x1: np.ndarray | None = None, rank: np.ndarray | None = None) -> None:
        """Change ends and/or ranks of existing segments (positions from :meth:`locate`)."""
        pos = np.asarray(pos, np.int64)
        keep = pos >= 0
        if not np.any(keep):
            return
        pos = pos[keep]
        self._touch(int(pos.min()))
        if rank is not None:
            self._rank[pos] = np.asarray(rank)[keep] if np.ndim(rank) else rank
        if x1 is not None:
            self._x1[pos] = np.asarray(x1, np.float64)[keep] if np.ndim(x1) else x1
            # Ends moved, so the running max must be redone from the earliest change (usually
            # the lane's last segment, so this touches a handful of rows).
            self._xmax_from(int(pos.min()))

    def _xmax_from(self, pos: int) -> None:
        if pos >= self.n:
            return
        tail = self._x1[pos : self.n].copy()
        if pos > 0:
            tail[0] = max(tail[0], self._xmax[pos - 1])
        np.maximum.accumulate(tail, out=self._xmax[pos : self.n])

    def span(self, vx0: float, vx1: float) -> tuple[int, int]:
        """Index range [lo, hi) of segments that may intersect (vx0, vx1)."""
        lo = int(np.searchsorted(self.xmax, vx0, side="right"))
        hi = int(np.searchsorted(self.x0, vx1, side="left"))
        return lo, max(lo, hi)

    def nearest(self, x: float, tol: float) -> int:
        """Position of the segment under ``x`` or within ``tol`` of it (-1 if none)."""
        if self.n == 0:
            return -1
        i = int(np.searchsorted(self.x0, x, side="right")) - 1
        best, best_d = -1, tol
        for p in (i, i + 1):
            if 0 <= p < self.n:
                d = max(self._x0[p] - x, x - self._x1[p], 0.0)
                if d <= best_d:
                    best, best_d = p, d
        return best
