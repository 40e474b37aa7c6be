"""Run metrics derived from a Timeline: makespan, utilization, speedup, per-state totals.

Every figure is defined in :data:`DEFINITIONS` (shown as the figure's tooltip and in the README),
computed from measured times only. In short:

* makespan = worker start-up (first submission, or the first worker's creation if earlier -> first
  task start) + work (first task start -> last task end). A scenario's main program is not work:
  its roles are.
* speedup = serial time / work. The serial time is a *measured* serial run of the same workload
  when one is given (``baseline``), else an *estimate*: the tasks' own work, i.e. their on-CPU
  time plus the blocking they would do alone (sleep, I/O) plus the run-queue time other programs
  caused (a serial run on this machine would suffer it too), without the waits the parallel run
  itself caused: run-queue time beyond the CPUs the run had, waits in instrumented primitives
  (lock, queue, event, join: the wait spans), and for threads of one process the time other
  threads of it were on a CPU or runnable while this one was blocked (the GIL is taken in turns).
* utilization = slot occupancy (time workers spent in tasks / (work x slots)) and on-CPU share
  (on-CPU time of tasks / (work x CPUs the run could use)).
* averages per finished task: waiting (queued + ready) and turnaround (submission -> end).
* other load: the machine lane's share of the run's CPUs used by other programs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from procviz.engine.events import LaneKind, RunPhase, TaskState
from procviz.engine.machine import HOLD_NS, other_load
from procviz.engine.machine import TICK_NS as MACHINE_TICK_NS
from procviz.engine.own_work import CHUNK, Bins, own_work_ns
from procviz.engine.task_sums import BlockSums, TaskSumsCache, by_lane, cache_of, lanes_in_turn, own_ids
from procviz.engine.timeline import Timeline

OTHER_LOAD_NOTABLE = 0.10  # mean share of the run's CPUs used by other programs worth a warning
CPUS_UNKNOWN = "the file does not say how many CPUs the run had"
NONE_ENDED = "none (no task ran to its end)"  # a speedup or a mean over no task
NONE_DONE = "none (no task was done)"  # a speedup where every task failed

DEFINITIONS: dict[str, str] = {
    "makespan": "First submission to last task end = worker start-up + work (a scenario's main program, "
                "which is not work, excluded).",
    "startup": "Worker start-up: first submission (or the first worker's creation, if earlier) to the "
               "first task start (creating workers, interpreter start and imports for spawn). A serial run "
               "has none.",
    "work": "Work: first task start to last task end (a scenario's main program excluded).",
    "speedup": "Serial time / work. Measured: a serial run of the same workload. Estimate: the "
               "tasks' own work (on-CPU + their own sleep/I/O blocking + the run-queue time other "
               "programs would cause a lone serial thread; run-queue time from more runnable workers "
               "than CPUs, waits in locks, queues, events and joins, and GIL turns of threads "
               "excluded) / work.",
    "slots": "Slot occupancy: time workers spent in tasks / (work × worker slots). A thread "
             "waiting for the GIL occupies its slot.",
    "lane_utilization": "Per worker: its busy time (in tasks) / work. A scenario's main program, "
                        "which is not work, over its own span (from its start to the last task end).",
    "cpu_share": "On-CPU share: on-CPU time of all tasks / (work × CPUs the run could use, at most "
                 "one per worker slot).",
    "waiting": "Mean waiting time of a finished task: queued for a worker + ready (runnable, "
               "waiting for a CPU).",
    "turnaround": "Mean turnaround time of a finished task: submission to end.",
    "task_time": "Sums over tasks: queued (submission to start), on-CPU, ready (run-queue wait), "
                 "waiting (blocked: wall - on-CPU - ready). Tasks under 0.2 ms have no ready "
                 "time measured: their time off CPU is in neither, and said apart.",
    "other_load": "Share of the run's CPUs used by other programs (machine lane: /proc/stat busy "
                  "time less the run's own processes), averaged over the run.",
}


@dataclass(frozen=True, slots=True)
class LaneMetrics:
    """Per-lane figures."""

    lane: int
    pid: int
    tasks: int
    busy_ns: int
    utilization: float  # see DEFINITIONS["lane_utilization"]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Summary figures of one run (times in ns); see :data:`DEFINITIONS`."""

    tasks: int
    done: int
    failed: int
    timeout: int
    cancelled: int
    makespan_ns: int
    busy_ns: int
    serial_estimate_ns: int  # the serial time used for the speedup (measured or estimated)
    speedup: float
    utilization: float  # slot occupancy
    queued_ns: int
    cpu_ns: int
    ready_ns: int
    waiting_ns: int
    ready_measured: bool
    lanes: tuple[LaneMetrics, ...]
    slots: int
    startup_ns: int = 0
    work_ns: int = 0
    speedup_measured: bool = False
    cpu_share: float = 0.0
    cpus: int = 1  # 0: not known (a file that does not keep it)
    mean_wait_ns: int = 0
    mean_turnaround_ns: int = 0
    finished: int = 0  # tasks the means are over: ran (or failed) to an end, not cancelled
    other_load: float = 0.0
    other_load_peak: float = 0.0
    machine_ns: int = 0  # the span the machine lane measured (other_load is a share of it)
    cpu_unmeasured: int = 0  # tasks that ran with no on-CPU time measured (not in cpu_ns nor cpu_share)
    unsplit_ns: int = 0  # time off CPU of tasks with ready unmeasured: neither ready_ns nor waiting_ns
    in_progress: bool = False  # the run has not finished (its machine lane trails it by HOLD_NS)

    @property
    def other_load_notable(self) -> bool:
        """Whether other programs used enough of the run's CPUs to explain ready time: 10 % or
        more, and more CPU time than /proc/stat's resolution (a clock tick per CPU at each end of
        the span: a 0.15 s run's 11 % "other" was 16 ms, within it)."""
        return self.other_load >= OTHER_LOAD_NOTABLE and self.other_load * self.machine_ns > 2 * MACHINE_TICK_NS

    @property
    def has_speedup(self) -> bool:
        """Whether there is a speedup to tell: some task ended, and some task was done."""
        return self.speedup > 0 and self.done > 0

    def speedup_text(self) -> str:
        """'2.31× (measured: serial run 4.1 s)' or '1.98× (estimate: own work 3.9 s)'; a run where
        no task ran to its end has none to tell (not "0.00×")."""
        if self.speedup <= 0:
            return NONE_ENDED
        if not self.has_speedup:  # every task that ended failed: none of the work was done, faster or not
            return NONE_DONE
        s = _short_seconds(self.serial_estimate_ns * 1e-9)
        how = f"measured: serial run {s}" if self.speedup_measured else f"estimate: own work {s}"
        return f"{self.speedup:.2f}× ({how})"

    def cpu_share_text(self, percent: Callable[[float], str] = lambda x: f"{x * 100:.1f}%") -> str:
        """'62.3% of 2 CPUs', or that the CPUs are not known (a file that does not keep them)."""
        if not self.cpus:
            return f"not measured ({CPUS_UNKNOWN})"
        cpus = min(self.slots, self.cpus)
        return f"{percent(self.cpu_share)} of {cpus} CPU{'s' if cpus != 1 else ''}"

    def cpu_unmeasured_text(self) -> str:
        """' (12 tasks not measured)' after an on-CPU figure, or '' when every task that ran was."""
        n = self.cpu_unmeasured
        return f" ({n:,} task{'s' if n != 1 else ''} not measured)" if n else ""

    def other_load_summary(self, percent: Callable[[float], str] = lambda x: f"{x * 100:.1f}%") -> str:
        """The other programs' share of the run's CPUs, a sentence when notable; not measured
        where the machine lane was not (a CSV keeps none)."""
        if not self.machine_ns:
            if self.in_progress:  # (its rows wait for the boots they span)
                return f"none read yet (the machine lane trails the run by {HOLD_NS / 1e9:g} s)"
            return "not measured (no reading of the machine's CPUs)"
        return self.other_load_text() or f"{percent(self.other_load)} of the run's CPUs"

    def other_load_text(self) -> str:
        """A sentence on other programs' load, '' when there was little."""
        if not self.other_load_notable:
            return ""
        # Short enough for an 80-column terminal after the CLI's "note: " prefix.
        return (f"other programs used {self.other_load * 100:.0f}% of {self.cpus} CPU"
                f"{'s' if self.cpus != 1 else ''} (peak {self.other_load_peak * 100:.0f}%): "
                "some ready time is theirs")

    def summary_lines(self) -> list[str]:
        """The figures as short human-readable lines (CLI summary, status texts)."""
        s = 1e-9
        lines = [
            f"tasks: {self.tasks} (done {self.done}, failed {self.failed}, timeout {self.timeout}, "
            f"cancelled {self.cancelled})",
            f"makespan: {self.makespan_ns * s:.3f} s (worker start-up {self.startup_ns * s:.3f} s + "
            f"work {self.work_ns * s:.3f} s)",
            # (the window's name for it; "utilization" is the per-worker column's, another figure)
            f"slot occupancy: {self.utilization * 100:.1f}% of {self.slots} worker slot{'s' if self.slots != 1 else ''}"
            f"; on-CPU {self.cpu_share_text()}",
            f"speedup: {self.speedup_text()}".replace("×", "x"),
            # Sums over the tasks (a 1M-task run queues for days in total): said on a line of its
            # own, so the figures' line still fits an 80-column terminal.
            f"task time, summed over the {self.tasks} tasks:",
            f"  queued {self.queued_ns * s:.3f} s, on-CPU {self.cpu_ns * s:.3f} s{self.cpu_unmeasured_text()}, ready "
            + (f"{self.ready_ns * s:.3f} s" if self.ready_measured else "not measurable here")
            + f", waiting {self.waiting_ns * s:.3f} s",
            # A task with no on-CPU time measured (ended by a timeout or with its worker, or a short one
            # in a group found off CPU) has neither ready nor waiting: "waiting 0.000 s" beside six
            # timed-out sleeps read as measured.
            *([f"  the {self.cpu_unmeasured:,} not measured are in none of these sums"] if self.cpu_unmeasured else []),
            *([f"  off CPU, not split into ready and waiting (tasks under 0.2 ms): {self.unsplit_ns * s:.3f} s"]
              if self.unsplit_ns else []),
            f"per task: mean waiting (queued + ready) {self.mean_wait_ns * s * 1e3:.1f} ms, "
            f"mean turnaround {self.mean_turnaround_ns * s * 1e3:.1f} ms" if self.finished
            else f"per task: mean waiting and turnaround {NONE_ENDED}",
        ]
        if self.other_load_notable:
            lines.append("note: " + self.other_load_text())
        return lines


def peak_concurrency(starts: np.ndarray, ends: np.ndarray) -> int:
    """The most intervals [start, end) open at one time (an end at t closes before a start at t).

    Right after the k-th start (in time order) k intervals have started and those whose end is at
    or before it have closed: two sorted copies and a chunked search, 16 bytes a task at a million
    (a merged, lexsorted event list costs four times that)."""
    if len(starts) == 0:
        return 0
    return _peak_of_sorted(np.sort(starts), np.sort(ends))


def _peak_of_sorted(starts: np.ndarray, ends: np.ndarray) -> int:
    peak = 0
    for lo in range(0, len(starts), CHUNK):
        part = starts[lo:lo + CHUNK]
        closed = np.searchsorted(ends, part, side="right")
        peak = max(peak, int((np.arange(lo + 1, lo + 1 + len(part)) - closed).max()))
    return peak


def _work_tasks(tl: Timeline) -> np.ndarray:
    """Whether each task is work (a scenario's main program, task 0, coordinates: it is not)."""
    work = np.ones(tl.n_tasks, bool)
    if tl.run is not None and tl.run.config.get("scenario") and tl.n_tasks > 1:
        work[0] = False
    return work


def _is_serial(tl: Timeline) -> bool:
    cfg = tl.run.config if tl.run else {}
    return cfg.get("backend") == "serial" or (int(cfg.get("workers", 0) or 0) == 1 and not cfg.get("scenario"))


@dataclass(frozen=True, slots=True)
class SerialBaseline:
    """What a measured serial run contributes to later runs' speedup: its workload and work time."""

    workload: dict
    work_ns: int


def serial_baseline_of(tl: Timeline) -> SerialBaseline | None:
    """The baseline a finished, all-done serial run provides (None for any other run)."""
    if tl.run is None or not _is_serial(tl) or tl.n_tasks == 0 or np.any(tl.state != TaskState.DONE):
        return None
    _, work = _spans(tl)
    return SerialBaseline(dict(tl.run.config.get("workload") or {}), work) if work else None


def serial_baseline_ns(tl: Timeline, baseline: Timeline | SerialBaseline | None) -> int | None:
    """The work time of ``baseline`` if it is a finished serial run of the same workload as ``tl``."""
    if isinstance(baseline, Timeline):
        baseline = serial_baseline_of(baseline)
    if baseline is None or tl.run is None or baseline.workload != (tl.run.config.get("workload") or {}):
        return None
    return baseline.work_ns


def _spans(tl: Timeline, blocks: list[BlockSums] | None = None) -> tuple[int, int]:
    """(worker start-up, work) in ns."""
    blocks = cache_of(tl).update(tl, _work_tasks(tl)) if blocks is None else blocks
    window = _work_window(blocks)
    if window is None:
        return 0, 0
    first_start, last_end = window
    big = np.iinfo(np.int64).max
    first_submitted = min((b.min_submitted for b in blocks), default=big)
    first = min(first_submitted, first_start, _first_worker_created(tl, first_start))
    return first_start - first, last_end - first_start


def _work_window(blocks: list[BlockSums]) -> tuple[int, int] | None:
    """(first task start, last task end) of the work, in ns; None before any task started.

    A scenario's main program is not work at either end: it starts the roles and ends after
    them (it joins them, checks what they did), and its tail once counted as work (the Value and
    Array preset: 1 ms of work read as 22 ms)."""
    big = np.iinfo(np.int64).max
    first_start = min((b.min_start_work for b in blocks), default=big)
    if first_start != big:
        return first_start, max((b.max_end_work for b in blocks), default=-1)
    first_start = min((b.min_start_has for b in blocks), default=big)  # no work task has both ends:
    if first_start == big:  # every task counts
        return None
    return first_start, max((b.max_end_has for b in blocks), default=-1)


def _lane_windows(tl: Timeline, work_tasks: np.ndarray, window: tuple[int, int] | None) -> dict[int, int]:
    """The span a lane's utilization is measured over, for lanes that ran tasks that are not work
    (a scenario's main program): the work widened to that task's own start and end. Its busy time
    over the work alone would read e.g. 174 %: the main program starts before the work does."""
    out: dict[int, int] = {}
    if window is None:
        return out
    for task in np.flatnonzero(~work_tasks).tolist():
        start, end, lane = int(tl.start_ns[task]), int(tl.end_ns[task]), int(tl.lane[task])
        if start < 0 or lane < 0:
            continue
        lo, hi = min(window[0], start), max(window[1], end)
        out[lane] = max(out.get(lane, 0), hi - lo)
    return out


def _first_worker_created(tl: Timeline, first_start: int) -> int:
    """When the run's first worker process was created, if before its first task start.

    ``procviz run`` creates a Pool's workers before it imports numpy and the engine, and submits
    the tasks once those are in (engine/head_start.py): the workers' boot then comes before the
    first submission, and start-up must still count it, as it does when the Pool is created at
    submission (the window, a user's ``Pool(n).map``).
    """
    t0 = tl.run.t0_ns if tl.run is not None else 0
    created = [lane.created_ns for lane in tl.lanes
               if lane.kind == LaneKind.PROCESS and t0 <= lane.created_ns < first_start]
    return min(created, default=first_start)


def compute_metrics(timeline: Timeline, baseline: Timeline | SerialBaseline | None = None) -> Metrics:
    """Compute :class:`Metrics` for the timeline as it is now (works mid-run too); ``baseline``:
    a serial run of the same workload, whose measured time then gives the speedup.

    Called again on a growing timeline, it sums again only the blocks of tasks written since the
    last call (see :mod:`procviz.engine.task_sums`): the same figures, for the cost of the change.
    """
    tl = timeline
    cache = cache_of(tl)
    work_tasks = _work_tasks(tl)
    blocks = cache.update(tl, work_tasks)
    counts = sum((b.counts for b in blocks), np.zeros(len(TaskState), np.int64))
    startup, work = _spans(tl, blocks)
    makespan = startup + work
    slots = 1
    cfg = tl.run.config if tl.run is not None else {}
    if tl.run is not None:
        slots = int(cfg.get("workers", 1) or 1)
        if cfg.get("backend") == "serial":
            slots = 1
        elif cfg.get("scenario"):
            # a scenario runs one process per role at once, whatever ``workers`` says; the main
            # program's lane is not a worker slot
            main = {int(tl.lane[t]) for t in np.flatnonzero(~work_tasks).tolist()}
            slots = max(sum(1 for lane in tl.lanes if lane.kind != LaneKind.PARENT and lane.index not in main), 1)
    # A file without its config (CSV) must not claim fewer slots than tasks ran at once (> 100 %).
    bound = lanes_in_turn(blocks)
    if bound is None or bound > slots:
        has = (tl.start_ns >= 0) & (tl.end_ns >= 0) & work_tasks  # the work's tasks: they take slots
        starts, ends = tl.start_ns[has], tl.end_ns[has]  # copies, sorted in place: 16 bytes a task
        del has
        starts.sort()
        ends.sort()
        slots = max(slots, _peak_of_sorted(starts, ends) if len(starts) else 0)
        del starts, ends
    machine = tl.machine.data
    cpus = _cpus(tl)
    measured = serial_baseline_ns(tl, baseline)
    own_work = _own_work(tl, cache, blocks, max(cpus, 1), work_tasks) if measured is None else 0
    busy_total = sum(b.busy for b in blocks)
    busy_work = sum(b.busy_work for b in blocks)  # occupancy: of the worker slots, by the work
    serial = measured if measured is not None else own_work
    busy_by_lane, tasks_by_lane = by_lane(blocks, len(tl.lanes))
    own_span = _lane_windows(tl, work_tasks, _work_window(blocks)) if not work_tasks.all() else {}
    lanes = []
    for info in tl.lanes:
        busy = int(busy_by_lane[info.index]) if info.index < len(busy_by_lane) else 0
        tasks = int(tasks_by_lane[info.index]) if info.index < len(tasks_by_lane) else 0
        span = own_span.get(info.index, work)
        lanes.append(LaneMetrics(lane=info.index, pid=info.pid, tasks=tasks, busy_ns=busy,
                                 utilization=busy / span if span else 0.0))
    cpu_total = sum(b.cpu for b in blocks)
    finished, turned = sum(b.finished for b in blocks), sum(b.turned for b in blocks)
    other, other_peak = other_load(machine)
    return Metrics(
        tasks=tl.n_tasks,
        done=int(counts[TaskState.DONE]),
        failed=int(counts[TaskState.FAILED]),
        timeout=int(counts[TaskState.TIMEOUT]),
        cancelled=int(counts[TaskState.CANCELLED]),
        makespan_ns=makespan,
        busy_ns=busy_total,
        serial_estimate_ns=serial,
        speedup=serial / work if work else 0.0,
        utilization=busy_work / (work * slots) if work else 0.0,
        queued_ns=sum(b.queued for b in blocks),
        cpu_ns=cpu_total,
        ready_ns=sum(b.ready for b in blocks),
        waiting_ns=sum(b.waiting for b in blocks),
        ready_measured=bool(tl.run.schedstat) if tl.run else False,
        lanes=tuple(lanes),
        slots=slots,
        startup_ns=startup,
        work_ns=work,
        speedup_measured=measured is not None,
        cpu_share=sum(b.cpu_work for b in blocks) / (work * min(slots, cpus)) if work and cpus else 0.0,
        cpus=cpus,
        finished=finished,
        mean_wait_ns=int(sum(b.wait for b in blocks) / finished) if finished else 0,
        mean_turnaround_ns=int(sum(b.turnaround for b in blocks) / turned) if turned else 0,
        other_load=other,
        other_load_peak=other_peak,
        machine_ns=int((machine["end_ns"] - machine["start_ns"]).sum()) if len(machine) else 0,
        cpu_unmeasured=sum(b.cpu_unmeasured for b in blocks),
        unsplit_ns=sum(b.unsplit for b in blocks),
        in_progress=tl.status is not None and tl.status.phase != RunPhase.FINISHED,
    )


def sum_ended_blocks(timeline: Timeline) -> None:
    """Sum ahead, while a run goes on, the blocks of tasks that have all ended (their per-task
    sums and serial-time estimates): :func:`compute_metrics` at the end of the run then sums only
    the blocks written since, and estimates again only those the later state intervals reach (see
    :mod:`procviz.engine.task_sums`), with the same figures as from scratch. The engine calls it
    during a big run, where the cost is spread over the run instead of added to its end."""
    tl = timeline
    cache = cache_of(tl)
    work = _work_tasks(tl)
    blocks = cache.update_ended(tl, work)
    # Serial-time estimates only of blocks that the state intervals still to come cannot reach
    # (else each would be made again): a lane's next interval starts where its last one ended.
    iv = tl.intervals.data
    if not len(iv):
        return
    last_end = np.zeros(int(iv["lane"].max()) + 1, np.int64)
    np.maximum.at(last_end, iv["lane"], iv["end_ns"])
    live = [lane for lane in np.flatnonzero(last_end).tolist()
            if lane >= len(tl.lanes) or tl.lanes[lane].exit_ns < 0]
    if not live:
        return
    origin, horizon = int(iv["start_ns"].min()), int(last_end[live].min())
    safe = origin + (horizon - origin) // Bins.BIN_NS * Bins.BIN_NS  # the start of its bin
    ahead = [b if b is not None and b.own_max_end < safe else None for b in blocks]
    if any(b is not None for b in ahead):
        _own_work(tl, cache, ahead, max(_cpus(tl), 1), work)


def _cpus(tl: Timeline) -> int:
    """The CPUs the run could use (the machine lane's, else the run's count); 0 when the file does
    not say (a CSV keeps neither)."""
    machine = tl.machine.data
    return max(int(machine["cpus"][0]) if len(machine) else (tl.run.cpu_count if tl.run else 0), 0)


def _own_work(tl: Timeline, cache: TaskSumsCache, blocks: list[BlockSums] | list[BlockSums | None], cpus: int,
              work: np.ndarray) -> int:
    """The serial-time estimate of the finished, measured work tasks: per block, kept while the
    state intervals that arrived since cannot change it (see task_sums)."""
    iv = tl.intervals.data
    origin = int(iv["start_ns"].min()) if len(iv) else None  # the bins' first edge
    present = tuple(np.flatnonzero(np.bincount(iv["lane"])).tolist()) if len(iv) else ()
    key = (origin, present, tuple((info.index, info.kind, info.pid) for info in tl.lanes), cpus)
    made: list[Bins] = []

    def estimate(k: int) -> int:
        ids = own_ids(tl, k, work)
        if not len(ids):
            return 0
        if not made:
            made.append(Bins(tl))
        return own_work_ns(tl, ids, cpus, made[0])

    return cache.own_work(tl, blocks, key, Bins.BIN_NS, estimate)


def _short_seconds(s: float) -> str:
    """'3.912 s', or in ms or µs below 0.1 s: the tasks' own work of a run of tiny tasks read
    "0.000 s" beside its speedup of 0.03×, as if there were none."""
    if s >= 0.1 or s <= 0:
        return f"{s:.3f} s"
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} µs"
