"""What a timeline cannot tell: the records a file format leaves out, said in words.

A CSV keeps one row per task and nothing else: no run configuration, no worker lifetimes, no
worker states. The panels still show what can be computed from the tasks (utilization, for
instance, then counts as many worker slots as tasks ran at once, never more than 100 %), and
say what is missing instead of showing blanks that look like zeros.
"""

from __future__ import annotations

import numpy as np

from procviz.engine.timeline import Timeline


def missing_records(timeline: Timeline) -> list[str]:
    """Short phrases for what this timeline does not hold ([] for a full native run)."""
    if timeline.run is None:
        return []
    out = []
    if not timeline.run.config:
        out.append("no run configuration (worker slots counted from tasks running at once)")
    workers = [lane for lane in timeline.lanes if lane.kind != "parent"]
    if workers and all(lane.created_ns < 0 and lane.exit_ns < 0 for lane in workers):
        out.append("no worker lifetimes")
    if workers and len(timeline.intervals) == 0:
        out.append("no worker states")
    started = timeline.start_ns >= 0
    if np.any(started) and not np.any(timeline.cpu_ns[started] >= 0):
        out.append("no on-CPU times")
    return out
