"""The machine lane: how busy the run's CPUs were, split into the run's own work and other load.

Ready time means "runnable, no CPU free". Whether the CPUs were taken by the run's own workers
(more workers than cores: the lesson) or by other programs (a busy machine: not the run's doing)
is told apart here. Over each window of about 100 ms:

* busy: the non-idle time of the CPUs the run may use (its affinity set), from ``/proc/stat``
  (user + nice + system + irq + softirq + steal), as a share of those CPUs' capacity;
* own: the CPU time of the run's processes over the same window, every thread of each (see
  :class:`MachineSampler`): the engine's process (which holds thread workers), every worker
  process and every other process of the run's tree (a task's subprocess), the helpers
  (multiprocessing's resource tracker and fork server, procviz's guardian), and what the ones
  already reaped used, as a share of the same capacity;
* other = busy - own (never below 0): everything else on those CPUs.

``/proc/stat`` counts in clock ticks (10 ms), so a single window's split is good to a few
points; sums over a run are exact to a tick per CPU.
"""

from __future__ import annotations

import os
import time

import numpy as np

from procviz.engine.events import MACHINE_DTYPE
from procviz.engine.guardian_proc import children_of
from procviz.engine.machine_seed import (
    TICK_NS,
    MachineSeed,
    now_in_start_ticks,
    read_busy_ns,
    run_cpus,
    stat_fields,
)
from procviz.engine.machine_seed import process_cpu_ns as _process_cpu_ns  # (read by tests)
from procviz.engine.machine_seed import reaped_children_cpu_ns as _reaped_children_cpu_ns  # (replaced in tests)
from procviz.engine.proctree import CHILDREN_LISTED, fork_server_pid
from procviz.engine.proctree import helper_pids as _helper_pids  # one name to replace in tests
from procviz.engine.worker.clock import boottime_offset_ns

HOLD_NS = 600_000_000  # how long a row waits for the boots it spans (a spawn worker's: 0.1-0.4 s)


def stat_cpu_and_pages(raw: bytes) -> tuple[int, int]:
    """(user + system CPU ns, resident pages) of a process from its ``/proc/<pid>/stat`` text."""
    fields = stat_fields(raw)
    return (int(fields[11]) + int(fields[12])) * TICK_NS, int(fields[21])


class _Tracked:
    """A process read by the machine lane: its start time (against PID reuse), its CPU when first
    read (counted as its boot, or, for a process older than the run, not the run's) and when last
    read; ``mine``: the run's. A child of this process older than the run is not the run's until
    the run's tree scans find it (a Pool the CLI started before the engine): until then it is
    read only so that its reaping adds nothing (another program's, or an earlier run's zombie)."""

    __slots__ = ("start", "base", "last", "mine")

    def __init__(self, start: int, cpu: int, mine: bool) -> None:
        self.start, self.base, self.last, self.mine = start, cpu, cpu, mine


class MachineSampler:
    """Samples the machine lane every ``every`` calls of :meth:`tick`; owned by the engine thread.

    The run's own CPU is counted per process, never per thread (a lane's counters leave out its
    process's other threads: a ``Manager`` server's connection threads, a task's threads), from
    the kernel's accounts of whole processes:

    * this process (``process_time_ns``: the engine, the window, thread workers);
    * every process of the run still there (:meth:`track`: workers, the processes the run's tree
      scans find, the children of this process and of the fork server born during the run, the
      helpers), from ``/proc/<pid>/stat``, its reaped children included;
    * every process of the run already reaped: by this process (``RUSAGE_CHILDREN``, exact) or by
      another process of the run (in that one's reaped-children figure).

    A process counts from its first reading on, and that first reading (its boot, told late) is
    spread over its life so far (:meth:`add_own`). When a tracked process is reaped, its last
    reading leaves the sum and its whole CPU enters its reaper's: the sum is exact at every
    reaping, and short-lived processes that no scan saw (a role joined within a second) count too.
    This process's children from before the run are read too, so that their reaping adds
    nothing; they count only once the run's tree scans find them (see :class:`_Tracked`). The
    running total never goes back: a reaping seen between the two reads shows at
    the next tick instead, whole.
    """

    def __init__(self, every: int = 5, cpus: list[int] | None = None, seed: MachineSeed | None = None) -> None:
        self.cpus = cpus if cpus is not None else run_cpus()
        if seed is not None and list(seed.cpus) != self.cpus:
            seed = None  # (the run's CPUs changed since: its counters are of others)
        self.every = every
        self._calls = 0
        self._rows: list[tuple[int, int, int, float, float]] = []
        self._last: tuple[int, int, int, int] | None = None  # t, busy, total, own
        self._me = os.getpid()
        self._tracked: dict[int, _Tracked] = {}
        self._dropped_base = 0  # first readings of tracked processes since reaped (see _own_ns)
        # Rows are held HOLD_NS before they are taken: a boot (a process's CPU before its first
        # reading) is spread over the rows it spanned, not put in the row it was read in.
        self._extra_own = 0  # boot CPU that fell in the window now open: counted at its tick
        self._carry_ns = 0.0  # own CPU beyond the busy time of the rows taken so far (see take)
        self._closed = False
        self.available = read_busy_ns(self.cpus) is not None
        self._reaped0 = _reaped_children_cpu_ns() if self.available else 0
        self._first_ns: int | None = None  # the first reading: nothing before it is measured
        # Now in the kernel's process start-time unit (clock ticks since boot): a process that
        # started before is older than the run
        self._start_ticks = now_in_start_ticks()
        if not self.available:
            return
        if seed is not None:
            # The run's start was read (procviz.engine.machine_seed): the lane starts there, and
            # what the run's processes did since (their boots, this process's imports) is its own.
            self._reaped0, self._start_ticks, self._first_ns = seed.reaped_ns, seed.start_ticks, seed.t_ns
            self._last = (seed.t_ns, seed.busy_ns, seed.total_ns, seed.process_ns)
        now = time.monotonic_ns()
        # This process's children now: the helpers are the run's (from now on, or, if the run's
        # start was read, from then or from their birth); the others (a Pool the CLI started
        # before the engine without a seed, an earlier run's zombie, a process of the window's
        # user) are not, unless the run's tree scans find them (see _Tracked), or they started
        # during the run (with a seed: the head start's Pool).
        at_seed = {pid: (start, cpu) for pid, start, cpu in seed.children} if seed is not None else {}
        for pid in _helper_pids():
            read = _process_cpu_ns(pid)
            if not self._add_from_seed(pid, read, at_seed, mine=True):
                born_in_run = seed is not None and read is not None and read[0] >= self._start_ticks
                self.track(pid, now, before_run=not born_in_run)
        for pid in children_of(self._me):
            if pid not in self._tracked:
                read = _process_cpu_ns(pid)
                if seed is None:
                    self._add(pid, read, mine=False)
                elif not self._add_from_seed(pid, read, at_seed, mine=False):
                    self._child_seen(pid, now)
        for pid, (start, cpu) in at_seed.items():
            if pid not in self._tracked and _process_cpu_ns(pid, start) is None:
                # Reaped since the seed: its whole CPU is in the reaped figure, of which only what
                # it used since the seed is the run's (nothing, for an earlier run's zombie).
                self._dropped_base += cpu

    def _add_from_seed(self, pid: int, read: tuple[int, int] | None, at_seed: dict[int, tuple[int, int]],
                       mine: bool) -> bool:
        """Track ``pid`` from its reading at the seed, if it was this process's child then (and is
        the same process now); whether it was."""
        then = at_seed.get(pid)
        if read is None or then is None or then[0] != read[0]:
            return False
        t = self._tracked[pid] = _Tracked(read[0], then[1], mine)
        t.last = max(read[1], then[1])
        return True

    def track(self, pid: int, now_ns: int, start: int = -1, before_run: bool = False) -> None:
        """Count process ``pid`` of the run as its own from now on (a worker, a process its tree
        scans found, a helper); ``start``: its start time in clock ticks, if known. What it used
        before (``now_ns``) is spread over its life so far, unless it is ``before_run``."""
        if not self.available or pid == self._me:
            return
        known = self._tracked.get(pid)
        if known is not None:
            known.mine = True  # older than the run, and the run's: counted from the first reading
            return
        t = self._add(pid, _process_cpu_ns(pid, start), mine=True)
        if t is not None and not before_run:
            self._spread_boot(t, now_ns)

    def _child_seen(self, pid: int, now_ns: int) -> None:
        """A new child of this process or of the fork server: the run's if it was born during the
        run; an older one (an orphan of an earlier run's process, handed to this process as their
        subreaper) is read only so that its reaping adds nothing."""
        read = _process_cpu_ns(pid)
        t = self._add(pid, read, mine=read is not None and read[0] >= self._start_ticks)
        if t is not None and t.mine:
            self._spread_boot(t, now_ns)

    def _add(self, pid: int, read: tuple[int, int] | None, mine: bool) -> _Tracked | None:
        """Track ``pid`` from its reading ``read`` (None: reaped already, its CPU is or will be in
        its reaper's figure)."""
        if read is None:
            return None
        t = self._tracked[pid] = _Tracked(read[0], read[1], mine)
        return t

    def _spread_boot(self, t: _Tracked, now_ns: int) -> None:
        """What a process used before its first reading, over its life so far (see add_own)."""
        if t.base > 0:
            created = t.start * TICK_NS - boottime_offset_ns()
            self.add_own(min(created, now_ns), now_ns, t.base)

    def tick(self, now_ns: int, force: bool = False) -> None:
        """Called every sampler tick; samples every ``every``-th call (or when ``force``)."""
        self._calls += 1
        if not self.available or not (force or self._calls % self.every == 0 or self._last is None):
            return
        read = read_busy_ns(self.cpus)
        if read is None:
            return
        for pid in _helper_pids():  # a resource tracker started during the run
            self.track(pid, now_ns)
        if CHILDREN_LISTED:
            # Children born since the last tick, of this process and of the fork server: the
            # run's (see proctree), read from now on, not spread later over a life guessed uniform
            # (a spawn worker's boot is most of its CPU in its first 100-300 ms)
            server = fork_server_pid()
            for parent in (self._me, server) if server else (self._me,):
                for pid in children_of(parent):
                    if pid not in self._tracked:
                        self._child_seen(pid, now_ns)
        own = self._own_ns()
        busy, total = read
        if self._last is not None:
            t0, busy0, total0, own0 = self._last
            own = max(own, own0)  # never back: see the class docstring
            capacity = total - total0
            if capacity > 0 and now_ns > t0:
                b = (busy - busy0) / capacity
                o = (own - own0) / capacity
                self._rows.append((t0, now_ns, len(self.cpus), min(max(b, 0.0), 1.0), max(o, 0.0)))
        else:
            self._first_ns = now_ns
        self._last = (now_ns, busy, total, own)

    def _own_ns(self) -> int:
        """The run's own CPU so far (see the class docstring). Reaped children are read before the
        processes: one reaped in between is missing from both for this tick, never in both."""
        reaped = _reaped_children_cpu_ns() - self._reaped0
        live = 0
        for pid, t in list(self._tracked.items()):
            read = _process_cpu_ns(pid, t.start)
            if read is None:  # reaped: its whole CPU is in its reaper's figure now
                del self._tracked[pid]
                self._dropped_base += t.base if t.mine else t.last
                continue
            t.last = max(t.last, read[1])
            if t.mine:
                live += t.last - t.base
        return time.process_time_ns() + reaped - self._dropped_base + live + self._extra_own

    def add_own(self, start_ns: int, end_ns: int, cpu_ns: int) -> None:
        """``cpu_ns`` of the run's own, used from ``start_ns`` to ``end_ns`` and told only now (a
        process's boot, read when it is first tracked): spread over that span in proportion to
        time (the split between windows is not measured, the total is), into the rows still held
        and the window now open. What fell before the oldest held row goes into that row (its own
        rows are gone); what fell before the lane's first reading is left out, as the busy time
        it was part of is."""
        first = self._first_ns
        if cpu_ns <= 0 or first is None:
            return
        span = max(end_ns - start_ns, 1)
        start = max(start_ns, first)
        for i, (t0, t1, cpus, b, o) in enumerate(self._rows):
            lo = max(t0, start) if i else start  # the oldest held row takes what came before it
            part = cpu_ns * max(min(t1, end_ns) - lo, 0) // span
            if part:
                self._rows[i] = (t0, t1, cpus, b, o + part / (cpus * (t1 - t0)))
        open_from = max(self._rows[-1][1], start) if self._rows else start  # no row held: all of it
        self._extra_own += cpu_ns * max(end_ns - open_from, 0) // span  # counted at the next tick

    def close(self) -> None:
        """The run ended: every row may go now."""
        self._closed = True

    def take(self) -> np.ndarray:
        """Rows of MACHINE_DTYPE that are no longer held (all of them once closed), own shares
        at most the CPUs' busy share: what a row holds beyond it goes on into the next rows.

        Both shares are counted in clock ticks, by different counters read a moment apart (the
        CPUs' in ``/proc/stat``, each process's in its own stat), and a boot's CPU is spread by
        time: a row's own can exceed its busy by a tick per process. Cut off there, those ticks
        were lost while the rows they belonged to kept them as other programs' load (an idle
        machine read "other programs used 11-13 %" for the Manager counter preset, whose 100
        processes each round down); carried on, the run's total is kept."""
        if not self._rows:
            return np.zeros(0, MACHINE_DTYPE)
        cut = len(self._rows)
        if not self._closed:
            newest = self._rows[-1][1]
            cut = sum(1 for row in self._rows if row[1] <= newest - HOLD_NS)
        rows = []
        for t0, t1, c, b, o in self._rows[:cut]:
            capacity = c * (t1 - t0)
            own = o + self._carry_ns / capacity if capacity > 0 else o
            self._carry_ns = max(own - b, 0.0) * capacity
            rows.append((t0, t1, c, b, min(own, b)))
        del self._rows[:cut]
        return np.array(rows, dtype=MACHINE_DTYPE) if rows else np.zeros(0, MACHINE_DTYPE)


def other_load(machine: np.ndarray) -> tuple[float, float]:
    """(mean share of the run's CPUs used by other programs, the highest 1-window share).

    The mean is the run's busy time less its own over the whole run, not a mean of the windows'
    differences: some own CPU is counted in a later window than the one it was spent in (a boot
    longer than the rows held, a helper's first reading), and per window (clamped at 0) that shift
    would read as other programs' load. The sums over the run are exact whatever window each part
    falls in.
    """
    if len(machine) == 0:
        return 0.0, 0.0
    w = (machine["end_ns"] - machine["start_ns"]).astype(np.float64)
    busy, own = machine["busy"].astype(np.float64), machine["own"].astype(np.float64)
    other = np.maximum(busy - own, 0.0)
    mean = max(float(((busy - own) * w).sum() / w.sum()), 0.0) if w.sum() > 0 else 0.0
    return mean, float(other.max())
