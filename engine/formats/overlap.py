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
