"""Run metrics derived from a Timeline: makespan, utilization, speedup, per-state totals.

Definitions (all from measured task times, nothing estimated from the config):

* makespan: first submission (or first start) to last task end.
* busy time of a lane: the sum of its tasks' wall times (tasks on one lane never overlap).
* utilization of a lane: busy / makespan; overall: total busy / (makespan x worker slots).
* serial estimate: the sum of all task wall times less their run-queue (ready) wait, i.e. the
  same tasks back to back on one worker with a CPU always free; speedup = serial estimate /
  makespan. (Wall time alone would count the waiting for a core that only the parallel run had.)
* totals: the sums of per-task queued, on-CPU, ready (run-queue) and waiting (blocked) time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from procviz.engine.events import LaneKind, TaskState
from procviz.engine.timeline import Timeline


@dataclass(frozen=True, slots=True)
class LaneMetrics:
    """Per-lane figures."""

    lane: int
    pid: int
    tasks: int
    busy_ns: int
    utilization: float


@dataclass(frozen=True, slots=True)
class Metrics:
    """Summary figures of one run (times in ns)."""

    tasks: int
    done: int
    failed: int
    timeout: int
    cancelled: int
    makespan_ns: int
    busy_ns: int
    serial_estimate_ns: int
    speedup: float
    utilization: float
    queued_ns: int
    cpu_ns: int
    ready_ns: int
    waiting_ns: int
    ready_measured: bool
    lanes: tuple[LaneMetrics, ...]
    slots: int

    def summary_lines(self) -> list[str]:
        """The figures as short human-readable lines (CLI summary, status texts)."""
        s = 1e-9
        lines = [
            f"tasks: {self.tasks} (done {self.done}, failed {self.failed}, timeout {self.timeout}, "
            f"cancelled {self.cancelled})",
            f"makespan: {self.makespan_ns * s:.3f} s",
            f"utilization: {self.utilization * 100:.1f}% of {self.slots} worker slots",
            f"speedup vs serial estimate: {self.speedup:.2f}x (serial estimate "
            f"{self.serial_estimate_ns * s:.3f} s)",
            f"task time: queued {self.queued_ns * s:.3f} s, on-CPU {self.cpu_ns * s:.3f} s, ready "
            + (f"{self.ready_ns * s:.3f} s" if self.ready_measured else "not measurable here")
            + f", waiting {self.waiting_ns * s:.3f} s",
        ]
        return lines


def peak_concurrency(starts: np.ndarray, ends: np.ndarray) -> int:
    """The most intervals [start, end) open at one time (an end at t closes before a start at t)."""
    if len(starts) == 0:
        return 0
    times = np.concatenate((ends, starts))
    steps = np.concatenate((np.full(len(ends), -1, np.int64), np.ones(len(starts), np.int64)))
    order = np.lexsort((steps, times))  # by time, ends (-1) first at a tie
    return int(np.cumsum(steps[order]).max())


def compute_metrics(timeline: Timeline) -> Metrics:
    """Compute :class:`Metrics` for the timeline as it is now (works mid-run too)."""
    counts = timeline.state_counts()
    wall = timeline.wall_ns()
    has = wall >= 0
    starts = timeline.start_ns[has]
    ends = timeline.end_ns[has]
    if len(ends):
        sub = timeline.submitted_ns[has]
        first = int(min(starts.min(), sub[sub >= 0].min() if np.any(sub >= 0) else starts.min()))
        makespan = int(ends.max() - first)
    else:
        makespan = 0
    busy_total = int(wall[has].sum())
    serial_estimate = int((wall[has] - np.maximum(timeline.ready_ns[has], 0)).sum())
    lanes = []
    lane_ids = timeline.lane[has]
    if len(timeline.lanes):
        busy_by_lane = np.bincount(lane_ids[lane_ids >= 0], weights=wall[has][lane_ids >= 0],
                                   minlength=len(timeline.lanes))
        tasks_by_lane = np.bincount(lane_ids[lane_ids >= 0], minlength=len(timeline.lanes))
        for info in timeline.lanes:
            busy = int(busy_by_lane[info.index])
            lanes.append(LaneMetrics(lane=info.index, pid=info.pid, tasks=int(tasks_by_lane[info.index]),
                                     busy_ns=busy, utilization=busy / makespan if makespan else 0.0))
    slots = 1
    if timeline.run is not None:
        slots = int(timeline.run.config.get("workers", 1) or 1)
        if timeline.run.config.get("backend") == "serial":
            slots = 1
        elif timeline.run.config.get("scenario"):
            # a scenario runs one process per role at once, whatever ``workers`` says
            slots = max(sum(1 for lane in timeline.lanes if lane.kind != LaneKind.PARENT), 1)
    # A file without its config (CSV) must not claim fewer slots than tasks ran at once (> 100 %).
    slots = max(slots, peak_concurrency(starts, ends))
    ready = timeline.ready_ns
    waiting = timeline.waiting_ns()
    queued = timeline.queued_ns()
    return Metrics(
        tasks=timeline.n_tasks,
        done=counts[TaskState.DONE],
        failed=counts[TaskState.FAILED],
        timeout=counts[TaskState.TIMEOUT],
        cancelled=counts[TaskState.CANCELLED],
        makespan_ns=makespan,
        busy_ns=busy_total,
        serial_estimate_ns=serial_estimate,
        speedup=serial_estimate / makespan if makespan else 0.0,
        utilization=busy_total / (makespan * slots) if makespan else 0.0,
        queued_ns=int(queued[queued >= 0].sum()),
        cpu_ns=int(timeline.cpu_ns[timeline.cpu_ns >= 0].sum()),
        ready_ns=int(ready[ready >= 0].sum()),
        waiting_ns=int(waiting[waiting >= 0].sum()),
        ready_measured=bool(timeline.run.schedstat) if timeline.run else False,
        lanes=tuple(lanes),
        slots=slots,
    )
