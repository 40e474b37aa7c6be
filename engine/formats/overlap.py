"""Making slices on one track never overlap, as trace viewers require of complete (X) events.

Measured times can overlap by clock jitter (a task's start read in the worker a microsecond
before the previous task's end was stamped) or by data from two lanes sharing one (pid, tid).
Per track, slices are taken in start order and each start is moved to the latest end seen
before it; an end is never moved before its (new) start, so a swallowed slice keeps zero length.
"""

from __future__ import annotations

import numpy as np


def clip_overlaps(track: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New ``(start, end)`` arrays, in the input order, with no overlap within any track."""
    n = len(start)
    if n == 0:
        return start.copy(), end.copy()
    fast = _clip_in_order(track, start, end)
    if fast is not None:
        return fast
    order = np.lexsort((end, start, track))
    t, s, e = track[order], start[order], end[order]
    group = np.cumsum(np.r_[0, t[1:] != t[:-1]]).astype(np.int64)
    # One cumulative max for all tracks at once: key = group * n + rank of the end. Every key of a
    # later group is larger than any key of an earlier one, so within a group the running max
    # is the max over that group's earlier slices only.
    by_end = np.argsort(e, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_end] = np.arange(n)
    running = np.maximum.accumulate(group * n + rank)
    same_track = np.r_[False, group[1:] == group[:-1]]
    prev_rank = np.r_[0, running[:-1]] - group * n
    prev_end = e[by_end][np.clip(prev_rank, 0, n - 1)]
    new_s = np.where(same_track, np.maximum(s, prev_end), s)
    new_e = np.maximum(e, new_s)
    out_s, out_e = np.empty_like(start), np.empty_like(end)
    out_s[order], out_e[order] = new_s, new_e
    return out_s, out_e


_SMALL_TRACKS = 1 << 16  # track numbers a 16-bit radix sort orders


def _clip_in_order(track: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The same result without the three-key sort, when each track's slices already come in
    strictly increasing start order (a worker's tasks, by id): then a stable sort by track alone
    (a radix sort of few small numbers) is the (track, start, end) order, and the latest earlier end
    is one running maximum. None when that does not hold (ties, slices out of order)."""
    if not len(track) or track.min() < 0 or track.max() >= _SMALL_TRACKS:
        return None
    order = np.argsort(track.astype(np.uint16), kind="stable")
    t, s, e = track[order], start[order], end[order]
    same_track = t[1:] == t[:-1]
    if not (same_track <= (s[1:] > s[:-1])).all():
        return None
    low, high = int(e.min()), int(e.max())
    span = high - low + 1
    if span * (int(t[-1]) + 1) >= 1 << 62:
        return None  # (the keys would not fit in int64)
    # One running maximum for all tracks: a later track's keys exceed every earlier track's.
    running = np.maximum.accumulate(t.astype(np.int64) * span + (e - low))
    prev_end = running[:-1] - t[1:].astype(np.int64) * span + low
    new_s = s.copy()
    new_s[1:] = np.where(same_track, np.maximum(s[1:], prev_end), s[1:])
    new_e = np.maximum(e, new_s)
    out_s, out_e = np.empty_like(start), np.empty_like(end)
    out_s[order], out_e[order] = new_s, new_e
    return out_s, out_e
