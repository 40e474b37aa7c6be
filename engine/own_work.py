"""The speedup's estimate of a run's own work, task by task: what a serial run of the same tasks
would take (:func:`own_work_ns`), from the measured columns and state intervals.

A task's own work is its on-CPU time, plus its blocked time less the waits the parallel run itself
caused (instrumented waits on its lane, a thread's GIL turns), plus the run-queue time other
programs caused (a serial run would suffer it too). A task too short for its run-queue wait to be
read counts as blocked only what its worker's state intervals measured as blocked over its span.
The per-lane sums these need are made once per computation over fixed time bins (:class:`Bins`).
:mod:`procviz.engine.metrics` sums them per block of tasks, and keeps them while nothing that
changes them arrives (:mod:`procviz.engine.task_sums`).
"""

from __future__ import annotations

import numpy as np

from procviz.engine.events import LaneKind
from procviz.engine.timeline import TASK_BLOCK, Timeline

CHUNK = TASK_BLOCK  # tasks per step of the per-task sums: their temporaries stay a few MB at any size


def _span_wait_per_task(tl: Timeline, ids: np.ndarray) -> np.ndarray:
    """Time each task of ``ids`` spent in instrumented waits (wait spans on its lane while it ran)."""
    out = np.zeros(len(ids), np.int64)
    spans = tl.spans.data
    if not len(spans) or not len(ids):
        return out
    for lane in np.unique(tl.lane[ids]):
        mine = np.flatnonzero(tl.lane[ids] == lane)
        on_lane = spans[spans["lane"] == lane]
        if not len(on_lane):
            continue
        s, e = tl.start_ns[ids[mine]], tl.end_ns[ids[mine]]
        for k, (a, b) in enumerate(zip(s.tolist(), e.tolist(), strict=True)):
            lo = np.maximum(on_lane["start_ns"], a)
            hi = np.minimum(on_lane["end_ns"], b)
            out[mine[k]] = int(np.maximum(hi - lo, 0).sum())
    return out


def _cumulative(tl: Timeline, lane: int, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(times, ``column`` ns so far) of a lane from its state intervals, for np.interp;
    ``column`` "length" = time covered by intervals."""
    iv = tl.intervals.data
    iv = iv[iv["lane"] == lane]
    if not len(iv):
        return np.zeros(1), np.zeros(1)
    iv = iv[np.argsort(iv["start_ns"])]
    x = np.empty(2 * len(iv))
    y = np.empty(2 * len(iv))
    x[0::2], x[1::2] = iv["start_ns"], iv["end_ns"]
    values = iv["end_ns"] - iv["start_ns"] if column == "length" else iv[column]
    cum = np.cumsum(values).astype(np.float64)
    y[1::2] = cum
    y[0::2] = np.r_[0.0, cum[:-1]]
    return x, y


class Bins:
    """The lanes' state intervals cut into fixed time bins: on-CPU, ready and blocked ns per bin."""

    BIN_NS = 10_000_000

    def __init__(self, tl: Timeline) -> None:
        iv = tl.intervals.data
        self.edges = np.zeros(1)
        self.cpu: dict[int, np.ndarray] = {}
        self.ready: dict[int, np.ndarray] = {}
        self.blocked: dict[int, np.ndarray] = {}
        self.memo: dict[tuple, dict[int, np.ndarray]] = {}  # per-lane prefix sums, made once per Bins
        if not len(iv):
            return
        lo, hi = int(iv["start_ns"].min()), int(iv["end_ns"].max())
        self.edges = np.arange(lo, hi + self.BIN_NS, self.BIN_NS, dtype=np.float64)
        # Lanes are indices (>= 0); np.unique would import numpy.ma (~13 ms at the end of every run).
        for lane in np.flatnonzero(np.bincount(iv["lane"])).tolist():
            per = {c: np.diff(np.interp(self.edges, *_cumulative(tl, lane, c)))
                   for c in ("cpu_ns", "ready_ns", "length")}
            self.cpu[lane], self.ready[lane] = per["cpu_ns"], per["ready_ns"]
            self.blocked[lane] = np.maximum(per["length"] - per["cpu_ns"] - per["ready_ns"], 0.0)

    def per_task(self, tl: Timeline, ids: np.ndarray, cum: np.ndarray) -> np.ndarray:
        """Sum over each task's [start, end] of a lane's ns per bin, given as their prefix sums
        ``cum`` (:meth:`prefix`)."""
        a = np.interp(tl.start_ns[ids].astype(np.float64), self.edges, cum)
        b = np.interp(tl.end_ns[ids].astype(np.float64), self.edges, cum)
        return np.maximum(b - a, 0.0)

    @staticmethod
    def prefix(per_bin: np.ndarray) -> np.ndarray:
        """Prefix sums of ns per bin, from 0 at the first edge, for :meth:`per_task`."""
        return np.r_[0.0, np.cumsum(per_bin)]


def _groups(tl: Timeline, lanes: list[int]) -> dict[tuple[str, int], list[int]]:
    """Lanes that run Python one at a time: the thread lanes of one process (the GIL) form one
    group; every other lane is a group of its own."""
    groups: dict[tuple[str, int], list[int]] = {}
    for lane in lanes:
        info = tl.lanes[lane] if 0 <= lane < len(tl.lanes) else None
        key = ("threads", info.pid) if info is not None and info.kind == "thread" else ("lane", lane)
        groups.setdefault(key, []).append(lane)
    return groups


def _per_task_by_lane(tl: Timeline, ids: np.ndarray, bins: Bins, cums: dict[int, np.ndarray],
                      out: np.ndarray) -> None:
    """Into ``out``: for each task of ``ids`` on a lane of ``cums``, that lane's ns per bin (as
    prefix sums) summed over the task's span (:meth:`Bins.per_task`)."""
    lane_of = tl.lane[ids]
    for lane, cum in cums.items():
        mine = np.flatnonzero(lane_of == lane)
        if len(mine):
            out[mine] = bins.per_task(tl, ids[mine], cum).astype(np.int64)


def _other_ready_per_task(tl: Timeline, ids: np.ndarray, cpus: int, bins: Bins) -> np.ndarray:
    """Run-queue time of each task that other programs caused, which a serial run would suffer
    too. Per bin: the run alone would have had max(d - CPUs, 0) threads waiting, d being its
    runnable threads (on-CPU + ready; threads of one process count as at most one, as they take
    the GIL in turns); ready time beyond that is others'. A group (a process's threads) is
    credited at most the bin less its on-CPU time: a serial run cannot wait longer than that."""
    out = np.zeros(len(ids), np.int64)
    if not bins.ready or not len(ids):
        return out
    cums = bins.memo.get(("other", cpus))
    if cums is None:
        cums = bins.memo[("other", cpus)] = _others_ready_by_lane(tl, cpus, bins)
    _per_task_by_lane(tl, ids, bins, cums, out)
    return np.minimum(out, np.maximum(tl.ready_ns[ids], 0))


def _others_ready_by_lane(tl: Timeline, cpus: int, bins: Bins) -> dict[int, np.ndarray]:
    """Per lane, the prefix sums of the ready ns per bin that other programs caused (see
    :func:`_other_ready_per_task`): the same for every task, made once per computation."""
    groups = _groups(tl, list(bins.ready))
    demand = np.zeros(len(bins.edges) - 1)
    for lanes in groups.values():
        g_cpu = sum(bins.cpu[lane] for lane in lanes)
        g_run = g_cpu + sum(bins.ready[lane] for lane in lanes)
        demand += np.minimum(g_run, np.maximum(g_cpu, bins.BIN_NS)) if len(lanes) > 1 else g_run
    ready_total = sum(bins.ready.values())
    own_caused = np.maximum(demand - cpus * bins.BIN_NS, 0.0)
    other_frac = np.where(ready_total > 0, 1.0 - np.minimum(own_caused / np.maximum(ready_total, 1.0), 1.0), 0.0)
    # A serial run is one thread: beside other programs that hold u CPUs of the C, it waits only
    # for what they leave it less than one (a fair share C / (u + 1) of a CPU while it runs), not
    # for all the ready time they caused the parallel run, whose threads outnumbered the CPUs left.
    # (One CPU hog beside 2 workers on 2 CPUs: a lone thread still has a CPU; counted, the run's
    # whole ready time made 1.98x of a run whose serial run said 1.36x.) u is the CPU time the run
    # left in a bin where it waited in the run queue (the CPUs were then all busy): at most what
    # the other programs held, so the wait credited errs short, never long.
    run_cpu = sum(bins.cpu.values())
    others = np.where(ready_total > 0, np.maximum(cpus * bins.BIN_NS - run_cpu, 0.0) / bins.BIN_NS, 0.0)
    waits_per_cpu = np.maximum((others + 1.0) / cpus, 1.0) - 1.0  # a lone thread's ready ns per on-CPU ns
    cums = {}
    for lanes in groups.values():
        g_cpu = sum(bins.cpu[lane] for lane in lanes)
        g_other = sum(bins.ready[lane] for lane in lanes) * other_frac
        cap = np.minimum(np.maximum(bins.BIN_NS - g_cpu, 0.0), g_cpu * waits_per_cpu)
        scale = np.where(g_other > cap, cap / np.maximum(g_other, 1.0), 1.0)
        for lane in lanes:
            cums[lane] = bins.prefix(bins.ready[lane] * other_frac * scale)
    return cums


def _gil_wait_per_task(tl: Timeline, ids: np.ndarray, bins: Bins) -> np.ndarray:
    """For tasks on thread lanes: the time the thread was blocked while other threads of its
    process were on a CPU or runnable (bin by bin). Python threads take the GIL in turns: that wait exists
    only because they ran together."""
    out = np.zeros(len(ids), np.int64)
    cums = bins.memo.get(("gil",))
    if cums is None:
        cums = bins.memo[("gil",)] = _gil_by_lane(tl, bins)
    if not cums:
        return out
    _per_task_by_lane(tl, ids, bins, cums, out)
    return out


def _gil_by_lane(tl: Timeline, bins: Bins) -> dict[int, np.ndarray]:
    """Per thread lane, the prefix sums of its GIL wait per bin (see :func:`_gil_wait_per_task`)."""
    threads = [info for info in tl.lanes if info.kind == LaneKind.THREAD and info.index in bins.cpu]
    cums = {}
    for info in threads:
        others = [o.index for o in threads if o.index != info.index and o.pid == info.pid]
        if not others:
            continue
        # the GIL holder may itself be waiting for a CPU: runnable counts as holding it
        busy_others = sum(bins.cpu[o] + bins.ready[o] for o in others)
        cums[info.index] = bins.prefix(np.minimum(bins.blocked[info.index], busy_others))
    return cums


def _lane_blocked_per_task(tl: Timeline, ids: np.ndarray, bins: Bins) -> np.ndarray:
    """The blocked time the state intervals of each task's lane measured over the task's span, bin
    by bin in proportion (no limit on a lane without intervals: a file that keeps none)."""
    out = np.full(len(ids), np.iinfo(np.int64).max, np.int64)  # no intervals (a CSV): no cap
    cums = bins.memo.get(("blocked",))
    if cums is None:
        cums = bins.memo[("blocked",)] = {lane: bins.prefix(per_bin) for lane, per_bin in bins.blocked.items()}
    _per_task_by_lane(tl, ids, bins, cums, out)
    return out


def own_work_ns(tl: Timeline, ids: np.ndarray, cpus: int, bins: Bins | None = None) -> int:
    """The estimated serial time of tasks ``ids`` (finished, measured): see the module docstring."""
    if not len(ids):
        return 0
    bins = Bins(tl) if bins is None else bins
    total = 0
    for lo in range(0, len(ids), CHUNK):
        part = ids[lo:lo + CHUNK]
        wall = tl.end_ns[part] - tl.start_ns[part]
        cpu = np.maximum(tl.cpu_ns[part], 0)
        ready = tl.ready_ns[part]
        blocked = np.maximum(wall - cpu - np.maximum(ready, 0), 0)
        if tl.measures_ready:
            # A task too short for its own run-queue wait to be read (ready -1, see
            # timeline.blocked_ns): its time off CPU is blocked only as far as its worker's state
            # intervals measured blocked time over its span. On more workers than CPUs that time
            # is mostly run-queue wait, which a serial run would not have (3.27x shown on 2 CPUs
            # where the serial run said 1.15x, when all of it counted as the tasks' own).
            unsplit = np.flatnonzero((ready < 0) & (blocked > 0))
            if len(unsplit):
                blocked[unsplit] = np.minimum(blocked[unsplit], _lane_blocked_per_task(tl, part[unsplit], bins))
        blocked = np.maximum(blocked - _span_wait_per_task(tl, part) - _gil_wait_per_task(tl, part, bins), 0)
        total += int((cpu + blocked + _other_ready_per_task(tl, part, cpus, bins)).sum())
    return total
