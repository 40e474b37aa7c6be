"""The per-task sums behind :func:`procviz.engine.metrics.compute_metrics`, kept per block of tasks.

The metrics are sums and extremes over every task (and the tasks' share of the lanes' state
intervals). A window refreshes them while a run grows, so they are kept per block of
:data:`~procviz.engine.timeline.TASK_BLOCK` task ids and a block is summed again only when the
Timeline wrote to it since (:attr:`Timeline.block_stamp`); a call costs the blocks that changed,
not the run. Blocks are combined in id order, exactly as one pass over the whole run adds them,
so the figures are the same, to the nanosecond, as from scratch.

The serial-time estimate (own work) also depends on the lanes' state intervals, which keep
arriving: a block's own work stays valid while every interval and wait span that arrived since
starts after the bin that holds the block's last task end (a task's share of the bins is a
prefix sum over the bins before its end, see ``own_work.Bins``), and the bins' origin, the lanes
and the CPUs are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from procviz.engine.events import TaskState
from procviz.engine.timeline import TASK_BLOCK, Timeline, blocked_ns

_CANCELLED = int(TaskState.CANCELLED)

_BIG = np.iinfo(np.int64).max


@dataclass(slots=True)
class BlockSums:
    """What one block of tasks adds to the run's figures."""

    stamp: int
    counts: np.ndarray  # tasks per TaskState
    min_submitted: int  # _BIG when none
    min_start_work: int  # first start among work tasks with both ends (_BIG when none)
    min_start_has: int  # first start among tasks with both ends (_BIG when none)
    max_end_has: int  # last end among tasks with both ends (-1 when none)
    max_end_work: int  # last end among work tasks with both ends (-1 when none)
    # Lanes in turn: each lane's (first start, last end) of the block in id order; None when
    # some lane's tasks overlap or run out of id order within the block.
    turns: tuple[list[int], list[int], list[int]] | None
    busy: int
    busy_work: int  # of the work tasks alone (a scenario's main program is not work)
    busy_by_lane: np.ndarray  # float64, as np.bincount's weights sum them
    tasks_by_lane: np.ndarray
    cpu: int
    cpu_work: int  # of the work tasks alone
    ready: int
    waiting: int
    queued: int
    wait: int
    finished: int
    turnaround: int
    turned: int
    own_max_end: int  # the last end among the tasks whose own work is estimated (see own_ids)
    own_work: int | None = None  # None until estimated (or when it must be again)
    cpu_unmeasured: int = 0  # tasks that ran to an end with no on-CPU time (-1: see worker/group_readings.settle_group)
    unsplit: int = 0  # time off CPU of tasks whose ready time is unmeasured (not in ready nor waiting)


def block_sums(tl: Timeline, lo: int, work: np.ndarray, stamp: int) -> BlockSums:
    """The sums of tasks ``lo .. lo + TASK_BLOCK`` (``work``: which of them are work), with the
    definitions of the Timeline's derived columns (wall_ns, waiting_ns, ...) written out once."""
    part = slice(lo, lo + TASK_BLOCK)
    submitted, start, end = tl.submitted_part(part), tl.start_ns[part], tl.end_ns[part]
    cpu, lane = tl.cpu_ns[part], tl.lane[part]
    if len(start) and min(int(start.min()), int(submitted.min()), int(cpu.min()), int(lane.min())) >= 0 \
            and bool((end >= start).all()) and not bool((tl.state[part] == _CANCELLED).any()):
        return finished_block_sums(tl, part, work, stamp)
    return general_block_sums(tl, part, work, stamp)


def general_block_sums(tl: Timeline, part: slice, work: np.ndarray, stamp: int) -> BlockSums:
    """:func:`block_sums` of any block."""
    submitted, start, end = tl.submitted_part(part), tl.start_ns[part], tl.end_ns[part]
    cpu, ready, lane = tl.cpu_ns[part], tl.ready_ns[part], tl.lane[part]
    started, ended, sent = start >= 0, end >= 0, submitted >= 0
    both = started & ended
    wall = np.where(both, end - start, -1)
    has = wall >= 0  # (a task whose clock-jittered end precedes its start has no wall time)
    walls = wall[has]
    lane_has = lane[has]
    ok = lane_has >= 0
    cpu_has = cpu[has]
    ready_has = ready[has]
    blocked = blocked_ns(walls, cpu_has, ready_has, tl.measures_ready)
    unsplit = (blocked < 0) & (cpu_has >= 0)  # off CPU, its ready time unmeasured
    queued_ok = sent & started
    queued = np.where(queued_ok, np.maximum(start - submitted, 0), -1)
    sched_wait = np.where(queued_ok, queued + np.maximum(ready, 0), -1)
    # Finished: ended by itself or by a failure, not cancelled (a task a Stop ended, running or
    # not, has no waiting or turnaround of its own: 0 done and a "mean turnaround" of 10 min was
    # a stopped run's wait for the Stop).
    done_or_failed = tl.state[part] != _CANCELLED
    finished = queued_ok & ended & done_or_failed
    # Both means are over the same tasks: a task the engine ended before it started (lost with a
    # broken pool) has no turnaround as scheduling counts it either (its "end" is procviz's verdict).
    turnaround = np.maximum(end - submitted, 0)[finished]
    own = _own(has, cpu, work)
    return BlockSums(
        stamp=stamp,
        counts=np.bincount(tl.state[part], minlength=len(TaskState))[: len(TaskState)],
        min_submitted=int(np.min(submitted, where=sent, initial=_BIG)),
        min_start_work=int(np.min(start, where=both & work, initial=_BIG)),
        min_start_has=int(np.min(start, where=both, initial=_BIG)),
        max_end_has=int(np.max(end, where=both, initial=-1)),
        max_end_work=int(np.max(end, where=both & work, initial=-1)),
        turns=_turns(lane, start, end),
        busy=int(walls.sum()),
        busy_work=int(wall[has & work].sum()),
        busy_by_lane=np.bincount(lane_has[ok], weights=walls[ok]),
        tasks_by_lane=np.bincount(lane_has[ok]),
        cpu=int(cpu[cpu >= 0].sum()),
        cpu_work=int(cpu[(cpu >= 0) & work].sum()),
        ready=int(ready[ready >= 0].sum()),
        waiting=int(blocked[blocked >= 0].sum()),
        queued=int(queued[queued_ok].sum()),
        wait=int(sched_wait[finished].sum()),
        finished=int(np.count_nonzero(finished)),
        turnaround=int(turnaround.sum()),
        turned=len(turnaround),
        own_max_end=int(np.max(end, where=own, initial=-1)),
        cpu_unmeasured=int(np.count_nonzero(cpu_has < 0)),
        unsplit=int((walls - cpu_has)[unsplit].sum()),
    )


def finished_block_sums(tl: Timeline, part: slice, work: np.ndarray, stamp: int) -> BlockSums:
    """:func:`block_sums` of a block whose tasks all ran, were measured on-CPU and ended (the
    usual block of a finished run; run-queue waits may be unmeasured, -1): every mask of the
    general case is all true, so half the steps go."""
    submitted, start, end = tl.submitted_part(part), tl.start_ns[part], tl.end_ns[part]
    cpu, lane = tl.cpu_ns[part], tl.lane[part]
    ready_read = tl.ready_ns[part]
    ready = np.maximum(ready_read, 0)  # unmeasured counts as 0 in the sums, as in the general case
    wall = end - start
    off = np.maximum(wall - cpu - ready, 0)
    if tl.measures_ready:  # off CPU with ready unmeasured: not split (see timeline.blocked_ns)
        split = ready_read >= 0
        waiting, unsplit = int(off[split].sum()), int(off[~split].sum())
    else:
        waiting, unsplit = int(off.sum()), 0
    cpu_sum, ready_sum = int(cpu.sum()), int(ready.sum())
    queued = int(np.maximum(start - submitted, 0).sum())
    every = bool(work.all())
    return BlockSums(
        stamp=stamp,
        counts=np.bincount(tl.state[part], minlength=len(TaskState))[: len(TaskState)],
        min_submitted=int(submitted.min()),
        min_start_work=int(start.min()) if every else int(np.min(start, where=work, initial=_BIG)),
        min_start_has=int(start.min()),
        max_end_has=int(end.max()),
        max_end_work=int(end.max()) if every else int(np.max(end, where=work, initial=-1)),
        turns=_turns(lane, start, end),
        busy=int(wall.sum()),
        busy_work=int(wall.sum()) if every else int(wall[work].sum()),
        busy_by_lane=np.bincount(lane, weights=wall),
        tasks_by_lane=np.bincount(lane),
        cpu=cpu_sum,
        cpu_work=cpu_sum if every else int(cpu[work].sum()),
        ready=ready_sum,
        waiting=waiting,
        queued=queued,
        wait=queued + ready_sum,
        finished=len(start),
        turnaround=int(np.maximum(end - submitted, 0).sum()),
        turned=len(start),
        own_max_end=int(end.max()) if every else int(np.max(end, where=work, initial=-1)),
        unsplit=unsplit,
    )


def _own(has: np.ndarray, cpu: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Which tasks' own work is estimated: finished (a wall time), measured (on-CPU), work."""
    return has & (cpu >= 0) & work


def own_ids(tl: Timeline, k: int, work: np.ndarray) -> np.ndarray:
    """The ids of block ``k``'s tasks whose own work is estimated (made again when needed: kept,
    they would cost 8 bytes a task)."""
    part = slice(k * TASK_BLOCK, (k + 1) * TASK_BLOCK)
    start, end = tl.start_ns[part], tl.end_ns[part]
    has = np.where((start >= 0) & (end >= 0), end - start, -1) >= 0
    return np.flatnonzero(_own(has, tl.cpu_ns[part], work[part])) + k * TASK_BLOCK


def by_lane(blocks: list[BlockSums], n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
    """Busy ns (float64) and task counts per lane, the blocks added in id order (as one pass
    adding each block's np.bincount would: the same float sums)."""
    busy, tasks = np.zeros(n_lanes, np.float64), np.zeros(n_lanes, np.int64)
    if n_lanes:
        for b in blocks:
            k = min(len(b.busy_by_lane), n_lanes)
            busy[:k] += b.busy_by_lane[:k]
            tasks[:k] += b.tasks_by_lane[:k]
    return busy, tasks


def _turns(lane: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[list[int], list[int], list[int]] | None:
    """Each lane's first start and last end in the block, when its tasks run one after another
    in id order (as a worker runs its chunks); None when some lane's tasks overlap."""
    has = (start >= 0) & (end >= 0) & (lane >= 0)
    if not has.all():
        lane, start, end = lane[has], start[has], end[has]
    if not len(lane):
        return [], [], []
    present = np.flatnonzero(np.bincount(lane)).tolist()
    if len(present) <= 8:  # a few lanes: a mask each is cheaper than sorting the block
        firsts, lasts = [], []
        for k in present:
            mine = lane == k
            s, e = start[mine], end[mine]
            if (s[1:] < e[:-1]).any():
                return None
            firsts.append(int(s[0]))
            lasts.append(int(e[-1]))
        return present, firsts, lasts
    order = np.argsort(lane, kind="stable")  # by lane, id order within
    lane, start, end = lane[order], start[order], end[order]
    if not len(lane):
        return [], [], []
    follows = lane[1:] == lane[:-1]
    if (start[1:][follows] < end[:-1][follows]).any():
        return None
    heads = np.flatnonzero(np.r_[True, ~follows])
    tails = np.r_[heads[1:] - 1, len(lane) - 1]
    return lane[heads].tolist(), start[heads].tolist(), end[tails].tolist()


def lanes_in_turn(blocks: list[BlockSums]) -> int | None:
    """How many lanes ran tasks, when each ran its tasks one after another in id order across
    the blocks; None when some lane's tasks overlap or run out of id order."""
    last_end: dict[int, int] = {}
    for b in blocks:
        if b.turns is None:
            return None
        lanes, firsts, lasts = b.turns
        for lane, first, last in zip(lanes, firsts, lasts, strict=True):
            if first < last_end.get(lane, -1):
                return None
            last_end[lane] = last
    return len(last_end)


@dataclass(slots=True)
class TaskSumsCache:
    """The blocks of one Timeline (one run: a new run, or a file loaded into it, starts over)."""

    generation: int
    blocks: list[BlockSums | None] = field(default_factory=list)
    own_key: tuple = ()  # what the own-work estimates of the blocks were made under
    intervals_seen: int = 0  # interval and span rows the own-work estimates have seen
    spans_seen: int = 0

    def update(self, tl: Timeline, work: np.ndarray) -> list[BlockSums]:
        """Every block, summed again where the Timeline wrote since the last call."""
        return self._update(tl, work, ended_only=False)  # type: ignore[return-value]

    def update_ended(self, tl: Timeline, work: np.ndarray) -> list[BlockSums | None]:
        """Like :meth:`update`, but only the blocks whose tasks have all ended (None for the
        others, left as they are): a run's blocks summed ahead while it goes on, each once (a
        block still being written would be summed again at every call)."""
        return self._update(tl, work, ended_only=True)

    def _update(self, tl: Timeline, work: np.ndarray, ended_only: bool) -> list[BlockSums | None]:
        n_blocks = -(-tl.n_tasks // TASK_BLOCK)
        if len(self.blocks) != n_blocks:
            self.blocks = [None] * n_blocks
        out: list[BlockSums | None] = []
        for k, stamp in enumerate(tl.block_stamp.tolist()):
            b = self.blocks[k]
            if b is None or b.stamp != stamp:
                part = slice(k * TASK_BLOCK, (k + 1) * TASK_BLOCK)
                # (its last task first: a block still running is told by one read, not 16k)
                if ended_only and (tl.end_ns[min(part.stop, tl.n_tasks) - 1] < 0 or int(tl.end_ns[part].min()) < 0):
                    out.append(None)
                    continue
                b = self.blocks[k] = block_sums(tl, part.start, work[part], stamp)
            out.append(b)
        return out

    def own_work(self, tl: Timeline, blocks: list[BlockSums] | list[BlockSums | None], key: tuple, bin_ns: int,
                 estimate: Callable[[int], int]) -> int:
        """The run's own-work estimate: the blocks' kept estimates where still valid (see the
        module docstring), ``estimate(k)`` of block ``k`` for the others (a None block, one
        :meth:`update_ended` left out, adds nothing)."""
        iv, spans = tl.intervals.data, tl.spans.data
        if key != self.own_key or len(iv) < self.intervals_seen or len(spans) < self.spans_seen:
            for b in self.blocks:
                if b is not None:
                    b.own_work = None
        else:
            t_new = min(int(iv["start_ns"][self.intervals_seen:].min(initial=_BIG)),
                        int(spans["start_ns"][self.spans_seen:].min(initial=_BIG)))
            origin = key[0]
            if t_new < _BIG and origin is not None:
                safe = origin + (t_new - origin) // bin_ns * bin_ns  # the start of t_new's bin
                for b in self.blocks:  # every kept block, also those a warm-up's list leaves out
                    if b is not None and b.own_work is not None and b.own_max_end >= safe:
                        b.own_work = None
        self.own_key, self.intervals_seen, self.spans_seen = key, len(iv), len(spans)
        total = 0
        for k, b in enumerate(blocks):
            if b is None:
                continue
            if b.own_work is None:
                b.own_work = estimate(k)
            total += b.own_work
        return total


def cache_of(tl: Timeline) -> TaskSumsCache:
    """The Timeline's kept block sums (new ones when it began a run or loaded one since)."""
    cache = tl.derived.get("task_sums")
    if not isinstance(cache, TaskSumsCache) or cache.generation != tl.generation:
        cache = tl.derived["task_sums"] = TaskSumsCache(tl.generation)
    return cache
