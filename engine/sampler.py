"""Per-worker OS state over time, measured from the kernel, plus the worker process's CPU% and RSS.

Every ``period`` the sampler reads each live worker thread's ``/proc/<pid>/task/<tid>/schedstat``
(on-CPU ns, run-queue wait ns) and the state letter of its ``stat`` through kept descriptors.
:class:`~procviz.engine.lane_windows.LaneWindows` turns the reads into windows whose split is what
the kernel reports for them (ready time placed in the windows in which the thread was runnable,
see that module). A lane's windows tile its life: from the counters its hello carried at its
ready time, to the final counters the :class:`~procviz.engine.exit_watch.ExitWatch` read when
the kernel reported its exit (or the run's end).

Settled windows become state intervals: each labelled with the state it spent most of its time
in (RUNNING = on-CPU, READY = run-queue wait, WAITING = the rest: blocked), carrying the exact
on-CPU and ready ns, so a strip can draw the proportions and not only the label. Consecutive
windows merge while their label and shares stay close; an interval is cut every
``max_interval_s`` so a live view sees it grow.

NEW (created -> ready) and TERMINATED (after exit) come from the lane's lifecycle, not from here.
Where schedstat is missing, windows are split with the process's CPU times only and READY never
appears. CPU% and RSS come from the process's ``/proc/<pid>/stat`` (what psutil reads, without
importing it: the parent's imports are taken from the booting workers on 2 cores), every
``resource_every`` ticks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from procviz.engine.events import INTERVAL_DTYPE, MACHINE_DTYPE, RESOURCE_DTYPE, WorkerState
from procviz.engine.exit_watch import ExitWatch, KernelExit
from procviz.engine.lane_windows import LaneWindows, Window
from procviz.engine.machine import MachineSampler, stat_cpu_and_pages
from procviz.engine.machine_seed import MachineSeed
from procviz.engine.thread_files import GONE, SAMPLE_PERIOD_S, Reading, ThreadFiles

SHARE_TOLERANCE = 0.10  # windows merge into one interval while their shares differ less than this
_PAGE = os.sysconf("SC_PAGE_SIZE")


def window_state(length: int, cpu: int, ready: int) -> WorkerState:
    """The state a window spent most of its time in (ties: running, then ready)."""
    blocked = length - cpu - ready
    if cpu >= ready and cpu >= blocked:
        return WorkerState.RUNNING
    if ready >= blocked:
        return WorkerState.READY
    return WorkerState.WAITING


@dataclass(slots=True)
class _Open:
    """The interval being built for one lane."""

    state: int
    start_ns: int
    end_ns: int
    cpu_ns: int = 0
    ready_ns: int = 0

    def close_to(self, w: Window) -> bool:
        """Whether ``w`` has about the same shares as this interval."""
        a, b = self.end_ns - self.start_ns, w.end - w.start
        return (abs(self.cpu_ns / a - w.cpu / b) <= SHARE_TOLERANCE
                and abs(self.ready_ns / a - w.ready / b) <= SHARE_TOLERANCE)


class _ProcessUsage:
    """A worker process's CPU time and RSS, from a kept descriptor on ``/proc/<pid>/stat``."""

    def __init__(self, pid: int) -> None:
        self.fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        self._last: tuple[int, int] | None = None  # (monotonic ns, CPU ns) of the last percent()

    def read(self) -> tuple[int, int]:
        """(CPU ns of the whole process, user + system; RSS bytes); raises OSError once it is gone."""
        cpu, pages = stat_cpu_and_pages(os.pread(self.fd, 1024, 0))
        return cpu, pages * _PAGE

    def percent(self) -> tuple[float, int]:
        """(CPU% since the last call, as psutil's cpu_percent: 100 = one CPU; RSS bytes). The first
        call primes and answers 0.0."""
        cpu, rss = self.read()
        now = time.monotonic_ns()
        last, self._last = self._last, (now, cpu)
        if last is None or now <= last[0]:
            return 0.0, rss
        return 100.0 * (cpu - last[1]) / (now - last[0]), rss

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = -1


class _LaneProbe:
    """One lane: its kernel counters, its window builder and its open interval."""

    def __init__(self, lane: int, pid: int, tid: int, t_ns: int, baseline: tuple[int, int] | None,
                 hold_ns: int, gone: bool = False) -> None:
        """``gone``: the thread exited already; only reads made earlier (and the baseline) remain."""
        self.lane, self.pid, self.tid = lane, pid, tid
        self.files: ThreadFiles | None = None
        self.proc: _ProcessUsage | None = None
        if not gone:
            try:
                self.files = ThreadFiles(pid, tid)
            except OSError:
                self.files = None
            try:
                self.proc = _ProcessUsage(pid)
                self.proc.percent()  # prime: the first call always answers 0.0
            except GONE:
                if self.proc is not None:
                    self.proc.close()
                self.proc = None
        try:
            cpu, ready, _ = self.read() if not gone else (-1, -1, "X")
        except GONE:
            # Reaped between the opens and this read (a worker quick to exit): the caller drops
            # this probe, so its descriptors are closed here or never (a leak per such worker).
            self.close()
            raise
        if baseline is not None and baseline[0] >= 0:
            self.windows = LaneWindows(t_ns, baseline[0], max(baseline[1], 0), hold_ns=hold_ns)
        else:
            # No counters from the worker: the time up to this first read has an unknown split.
            self.windows = LaneWindows(t_ns, cpu, ready, hold_ns=hold_ns)
        self.open: _Open | None = None

    def read(self) -> tuple[int, int, str]:
        """(on-CPU ns, run-queue wait ns, state letter) now."""
        if self.files is not None:
            return self.files.read()
        if self.proc is not None:
            return self.proc.read()[0], 0, "?"
        raise OSError("no counters")

    def close(self) -> None:
        if self.files is not None:
            self.files.close()
        if self.proc is not None:
            self.proc.close()


class StateSampler:
    """Samples worker lanes; owned and called by the engine thread only."""

    def __init__(self, period_s: float = SAMPLE_PERIOD_S, resource_every: int = 5, max_interval_s: float = 0.25,
                 hold_s: float = 0.5, watch_exits: bool = True, machine: bool = True,
                 machine_seed: MachineSeed | None = None) -> None:
        self.period_s = period_s
        self.period_ns = int(period_s * 1e9)
        self.resource_every = resource_every
        self.max_interval_ns = int(max_interval_s * 1e9)
        self.hold_ns = int(hold_s * 1e9)
        self._probes: dict[int, _LaneProbe] = {}
        self._ticks = 0
        self._last_tick_ns = 0
        self._intervals: list[tuple[int, int, int, int, int, int]] = []
        self._resources: list[tuple[int, int, float, int]] = []
        self.watch = ExitWatch() if watch_exits else None
        # (machine_seed: the machine's counters at the run's start, where its lane begins)
        self.machine = MachineSampler(seed=machine_seed) if machine else None
        self.ended: dict[tuple[int, int], KernelExit] = {}  # (pid, tid) -> how its lane ended
        self._exits_out: list[KernelExit] = []
        self.unplaced_cpu_ns = 0
        self.unplaced_ready_ns = 0
        # Reads made before this sampler existed, by pid (procviz.engine.early_sampler): fed to a
        # process lane's windows when its lane is added.
        self.early: dict[int, list[Reading]] = {}
        self._gone: dict[int, _LaneProbe] = {}  # by pid: lanes whose process exited before it was added
        self._gone_by: dict[int, int] = {}  # by pid: when such a process was first seen gone (see gone_by)
        self._finals: dict[int, tuple[int, int, int]] = {}  # by pid: a live lane's goodbye counters (final_reading)

    # ---- lanes ----------------------------------------------------------------------------------

    def add(self, lane: int, pid: int, tid: int, ready_ns: int, baseline: tuple[int, int] | None = None) -> None:
        """Start sampling a lane's thread from its ready time ``ready_ns``, where its counters were
        ``baseline`` (on-CPU, run-queue wait ns; from its hello), so no early time is lost."""
        if lane in self._probes or any(p.lane == lane for p in self._gone.values()):
            return
        early = self.early.pop(pid, ()) if tid == pid else ()
        try:
            probe: _LaneProbe | None = _LaneProbe(lane, pid, tid, ready_ns, baseline, self.hold_ns)
        except GONE:
            probe = None  # already gone: its lifecycle still shows new and terminated
            # Its exit came before now, or before an early read that saw it a zombie or gone.
            seen = [t for t, _, _, state in early if state in "ZX"]
            self._gone_by[pid] = min(seen, default=time.monotonic_ns())
            if tid == pid and baseline is not None and baseline[0] >= 0:
                # A worker that exited before its hello was read here (maxtasksperchild, spawn's
                # quick exit): its strip is what was read meanwhile, up to its goodbye's counters.
                gone = _LaneProbe(lane, pid, tid, ready_ns, baseline, self.hold_ns, gone=True)
                self._feed_early(gone, early)
                self._gone[pid] = gone
        if self.machine is not None:
            # The machine lane counts the whole process as the run's own from now on, and what it
            # used before (its boot: interpreter and imports) over its life so far. Left out, an
            # idle machine read "other programs used 13 %" (Semaphore preset).
            self.machine.track(pid, time.monotonic_ns())
        if probe is None:
            return
        self._probes[lane] = probe
        self._feed_early(probe, early)
        if self.watch is not None:
            self.watch.watch(pid, tid)

    def _feed_early(self, probe: _LaneProbe, readings: Iterable[Reading]) -> None:
        """Feed reads made before this sampler existed, from the lane's ready time on, as if
        :meth:`sample` had made them (a read older than the lane's counters is skipped)."""
        w = probe.windows
        for t_ns, cpu, ready, state in readings:
            if t_ns > w.last_t and cpu >= w.last_cpu and ready >= w.last_ready and state not in "ZX":
                self._windows(probe, w.feed(t_ns, cpu, ready, runnable=state == "R"))

    def final_reading(self, pid: int, t_ns: int, cpu: int, ready: int) -> None:
        """A process worker's main-thread counters as it exited (its goodbye): the end of its lane's
        windows if the process was gone before this sampler could read it; else nothing (its exit
        is read by the exit watch or the next tick)."""
        probe = self._gone.pop(pid, None)
        if probe is None:
            # Kept for the lane's end: if the process is reaped before its zombie is read (a
            # Process its parent joins at once), these are its last counters, not the last tick's.
            self._finals[pid] = (t_ns, cpu, ready)
            return
        w = probe.windows
        if t_ns > w.last_t and cpu >= w.last_cpu and ready >= w.last_ready:
            self._windows(probe, w.feed(t_ns, cpu, ready, runnable=True))  # read by itself, on a CPU
        self._end_gone(probe)

    def _end_gone(self, probe: _LaneProbe) -> None:
        """Close a gone lane's windows at its last counters; what followed until its exit was not
        read and is not drawn."""
        self._gone.pop(probe.pid, None)
        w = probe.windows
        self._probes[probe.lane] = probe  # as a sampled lane, which _finish ends
        self._finish(probe, w.last_t, w.last_cpu, w.last_ready)

    def adopt(self, processes: Iterable[tuple[int, int]]) -> None:
        """Processes of the run found by its tree scans, as (pid, start time in clock ticks since
        boot): the machine lane counts them as the run's own (see :meth:`MachineSampler.track`)."""
        if self.machine is None:
            return
        now_ns = time.monotonic_ns()
        for pid, start in processes:
            self.machine.track(pid, now_ns, start)

    def remove(self, lane: int, end_ns: int) -> None:
        """The lane ended at ``end_ns`` (its exit, as seen by its owner): a last read if the thread
        can still be read, then close its windows."""
        probe = self._probes.get(lane)
        if probe is None:
            gone = next((p for p in self._gone.values() if p.lane == lane), None)
            if gone is not None:  # exited without a goodbye's counters
                self._end_gone(gone)
            return
        self._finish_reading(probe, max(end_ns, probe.windows.last_t))

    def _finish_reading(self, probe: _LaneProbe, t_ns: int) -> None:
        """End a lane at ``t_ns`` with a last read if the thread can still be read."""
        try:
            cpu, ready, _ = probe.read()
        except GONE:
            self._finish_unread(probe, t_ns)
            return
        self._finish(probe, t_ns, cpu, ready)

    def _finish_unread(self, probe: _LaneProbe, t_ns: int) -> None:
        """End a lane whose thread can no longer be read (reaped before its zombie was read): at
        its goodbye's counters if they came (read by the process itself on a CPU as it exited;
        after them it only exited), else at the last tick's (LaneWindows.end_unread)."""
        last = self._finals.pop(probe.pid, None) if probe.tid == probe.pid else None
        w = probe.windows
        if last is not None and last[0] > w.last_t and last[1] >= w.last_cpu and last[2] >= w.last_ready:
            self._windows(probe, w.feed(last[0], last[1], last[2], runnable=True))
            self._finish(probe, max(t_ns, last[0]), last[1], last[2])
            return
        self._finish(probe, t_ns, w.last_cpu, w.last_ready, final=False)

    def _finish(self, probe: _LaneProbe, t_ns: int, cpu: int, ready: int, final: bool = True) -> None:
        """End a lane at ``t_ns``. ``final``: the counters are the thread's last (a zombie's, or
        read now); else they are the last tick's (see LaneWindows.end_unread)."""
        if final:
            self._windows(probe, probe.windows.feed(t_ns, cpu, ready, runnable=False))
            self._windows(probe, probe.windows.flush())
        else:
            self._windows(probe, probe.windows.end_unread(t_ns))
        self._close_open(probe)
        self.unplaced_cpu_ns += probe.windows.unplaced_cpu
        self.unplaced_ready_ns += probe.windows.unplaced_ready
        probe.close()
        del self._probes[probe.lane]

    def gone_by(self, pid: int) -> int | None:
        """For a process that had exited when its lane was added (its hello was read after its
        exit): a time by which the kernel showed it gone, its exit before it; else None. Its
        owner's report of the exit (a Pool's join) can come 0.1 s after."""
        return self._gone_by.get(pid)

    def take_gone_by(self, pid: int) -> int | None:
        """:meth:`gone_by`, forgotten once taken: the PID may be another process's later."""
        return self._gone_by.pop(pid, None)

    def end_time(self, pid: int, tid: int) -> int | None:
        """When the sampler ended the lane of (pid, tid) on the kernel's report, if it did."""
        k = self.ended.get((pid, tid))
        return k.t_ns if k is not None else None

    def kernel_exits(self) -> list[KernelExit]:
        """Exits the kernel reported since the last call (their lanes' windows already closed)."""
        self._apply_watch()
        out, self._exits_out = self._exits_out, []
        return out

    def _apply_watch(self) -> None:
        if self.watch is None:
            return
        for k in self.watch.take():
            for probe in [p for p in self._probes.values() if p.pid == k.pid and (p.tid == k.tid or k.tid == k.pid)]:
                end = max(k.t_ns, probe.windows.last_t)
                if k.cpu_ns >= 0 and probe.tid == k.tid:  # the zombie's counters
                    self._finish(probe, end, k.cpu_ns, k.ready_ns)
                else:
                    self._finish_unread(probe, end)
                self._ended(KernelExit(probe.pid, probe.tid, end, k.exit_code))

    def _ended(self, k: KernelExit) -> None:
        self.ended[(k.pid, k.tid)] = k
        self._exits_out.append(k)

    # ---- sampling -------------------------------------------------------------------------------

    def sample_if_due(self, now_ns: int) -> None:
        """Sample unless the last sample is less than a period old."""
        if now_ns - self._last_tick_ns >= self.period_ns:
            self.sample(now_ns)

    def sample(self, now_ns: int) -> None:
        """Take one sample of every lane. Each read is stamped with the clock when it is made,
        not with ``now_ns`` (the caller's pass may have begun long before, e.g. while thread
        workers hold the GIL): a window's counters must belong to its end."""
        self._apply_watch()
        self._ticks += 1
        self._last_tick_ns = now_ns
        with_resources = self._ticks % self.resource_every == 0
        for probe in list(self._probes.values()):
            now_ns = time.monotonic_ns()
            try:
                cpu, ready, state = probe.read()
            except GONE:
                state = "X"
                cpu, ready = probe.windows.last_cpu, probe.windows.last_ready
            if state in "ZX":  # exited: seen here first (no pidfd, or between its report and now)
                end = max(now_ns, probe.windows.last_t)
                if state == "Z":
                    self._finish(probe, end, cpu, ready)
                else:
                    self._finish_unread(probe, end)
                self._ended(KernelExit(probe.pid, probe.tid, end, None))
                continue
            self._windows(probe, probe.windows.feed(now_ns, cpu, ready, runnable=state == "R"))
            if with_resources and probe.proc is not None:
                try:
                    self._resources.append((probe.lane, now_ns, *probe.proc.percent()))
                except GONE:
                    pass
        if self.machine is not None:
            self.machine.tick(time.monotonic_ns())

    def _windows(self, probe: _LaneProbe, windows: list[Window]) -> None:
        """Fold settled windows into the lane's intervals."""
        for w in windows:
            length = w.end - w.start
            if length <= 0:
                continue
            state = int(window_state(length, w.cpu, w.ready))
            o = probe.open
            if o is not None and (o.state != state or w.end - o.start_ns > self.max_interval_ns
                                  or not o.close_to(w)):
                self._close_open(probe)
                o = None
            if o is None:
                probe.open = _Open(state, w.start, w.end, w.cpu, w.ready)
            else:
                o.end_ns, o.cpu_ns, o.ready_ns = w.end, o.cpu_ns + w.cpu, o.ready_ns + w.ready

    def _close_open(self, probe: _LaneProbe) -> None:
        o = probe.open
        if o is not None and o.end_ns > o.start_ns:
            self._intervals.append((probe.lane, o.state, o.start_ns, o.end_ns, o.cpu_ns, o.ready_ns))
        probe.open = None

    def close_all(self, now_ns: int) -> None:
        """End of run: a last read of every lane still sampled, close everything, stop watching."""
        self._apply_watch()
        for gone in list(self._gone.values()):
            self._end_gone(gone)
        for probe in list(self._probes.values()):
            self._finish_reading(probe, max(now_ns, probe.windows.last_t))
        if self.machine is not None:
            self.machine.tick(now_ns, force=True)
            self.machine.close()
        if self.watch is not None:
            self.watch.close()
            self.watch = None

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The intervals and resource samples gathered since the last call (open intervals that
        are long enough to show are cut here, so a live view sees them grow)."""
        for probe in self._probes.values():
            o = probe.open
            if o is not None and o.end_ns - o.start_ns >= self.max_interval_ns:
                self._close_open(probe)
        intervals = np.array(self._intervals, dtype=INTERVAL_DTYPE) if self._intervals else np.zeros(0, INTERVAL_DTYPE)
        resources = np.array(self._resources, dtype=RESOURCE_DTYPE) if self._resources else np.zeros(0, RESOURCE_DTYPE)
        self._intervals.clear()
        self._resources.clear()
        return intervals, resources

    def take_machine(self) -> np.ndarray:
        """Machine-lane rows gathered since the last call."""
        return self.machine.take() if self.machine is not None else np.zeros(0, MACHINE_DTYPE)

    @property
    def lanes(self) -> list[int]:
        """Lanes being sampled."""
        return list(self._probes)
