"""The machine lane: how busy the run's CPUs were, split into the run's own work and other load.

Ready time means "runnable, no CPU free". Whether the CPUs were taken by the run's own workers
(more workers than cores: the lesson) or by other programs (a busy machine: not the run's doing)
is told apart here. Over each window of about 100 ms:

* busy: the non-idle time of the CPUs the run may use (its affinity set), from ``/proc/stat``
  (user + nice + system + irq + softirq + steal), as a share of those CPUs' capacity;
* own: the CPU time of the run's processes over the same window: the engine's process (which
  holds thread workers) from ``process_time_ns``, every worker process's thread counters (the
  sampler's schedstat deltas, final counters included, and what a worker used before its hello:
  its boot) and the helper processes (multiprocessing's resource tracker, procviz's guardian),
  as a share of the same capacity;
* other = busy - own (never below 0): everything else on those CPUs.

``/proc/stat`` counts in clock ticks (10 ms), so a single window's split is good to a few
points; sums over a run are exact to a tick per CPU.
"""

from __future__ import annotations

import os
import time

import numpy as np

from procviz.engine.events import MACHINE_DTYPE

TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)  # /proc/stat's unit
HOLD_NS = 600_000_000  # how long a row waits for the boots it spans (a spawn worker's: 0.1-0.4 s)
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (after the cpuN label)


def run_cpus() -> list[int]:
    """The CPUs this process (and so the run, unless a worker narrows it) may use."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def read_busy_ns(cpus: list[int]) -> tuple[int, int] | None:
    """(busy ns, total ns) summed over ``cpus`` from /proc/stat; None where it does not exist."""
    try:
        with open("/proc/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    wanted = {f"cpu{c}".encode() for c in cpus}
    busy = total = 0
    for line in text.splitlines():
        if not line.startswith(b"cpu"):
            break  # the cpu lines come first; splitting the long "intr" line after them was most of the cost
        parts = line.split()
        if not parts or parts[0] not in wanted:
            continue
        values = [int(v) for v in parts[1:9]]
        busy += sum(values[i] for i in _BUSY_FIELDS if i < len(values))
        total += sum(values[:8])
    return (busy * TICK_NS, total * TICK_NS) if total else None


def _helper_pids() -> list[int]:
    """The pids of the helper processes now running: the resource tracker, the guardian."""
    import sys

    pids = []
    tracker_module = sys.modules.get("multiprocessing.resource_tracker")  # not started unless imported
    tracker = getattr(tracker_module, "_resource_tracker", None)
    if getattr(tracker, "_pid", None):
        pids.append(int(tracker._pid))  # type: ignore[union-attr]
    guardian_module = sys.modules.get("procviz.engine.guardian")
    guardian = getattr(guardian_module, "guardian", None)
    if getattr(guardian, "pid", 0):
        pids.append(int(guardian.pid))  # type: ignore[union-attr]
    return pids


def stat_cpu_and_pages(raw: bytes) -> tuple[int, int]:
    """(user + system CPU ns, resident pages) of a process from its ``/proc/<pid>/stat`` text."""
    fields = raw[raw.rfind(b")") + 2:].split()  # fields from the 3rd on (the name may hold spaces)
    return (int(fields[11]) + int(fields[12])) * TICK_NS, int(fields[21])


def _process_cpu_ns(pid: int) -> int | None:
    """A process's user + system CPU time so far (ns, in clock ticks), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return stat_cpu_and_pages(f.read())[0]
    except (OSError, IndexError, ValueError):
        return None


class MachineSampler:
    """Samples the machine lane every ``every`` calls of :meth:`tick`; owned by the engine thread."""

    def __init__(self, every: int = 5, cpus: list[int] | None = None) -> None:
        self.cpus = cpus if cpus is not None else run_cpus()
        self.every = every
        self._calls = 0
        self._rows: list[tuple[int, int, int, float, float]] = []
        self._last: tuple[int, int, int, int] | None = None  # t, busy, total, own
        self._helpers: dict[int, int] = {}  # helper pid -> its CPU ns when last read
        # Rows are held HOLD_NS before they are taken: a worker's boot (its CPU before its hello,
        # which tells it) is spread over the rows it spanned, not put in the row of its hello.
        self._extra_own = 0  # boot CPU that fell in the window now open: counted at its tick
        self._closed = False
        self.available = read_busy_ns(self.cpus) is not None

    def tick(self, now_ns: int, worker_cpu_ns: int, force: bool = False) -> None:
        """Called every sampler tick with the run's worker processes' CPU ns so far (a running sum)."""
        self._calls += 1
        if not self.available or not (force or self._calls % self.every == 0 or self._last is None):
            return
        read = read_busy_ns(self.cpus)
        if read is None:
            return
        own = worker_cpu_ns + time.process_time_ns() + self._helpers_cpu_ns() + self._extra_own
        busy, total = read
        if self._last is not None:
            t0, busy0, total0, own0 = self._last
            capacity = total - total0
            if capacity > 0 and now_ns > t0:
                b = (busy - busy0) / capacity
                o = (own - own0) / capacity
                self._rows.append((t0, now_ns, len(self.cpus), min(max(b, 0.0), 1.0), max(o, 0.0)))
        self._last = (now_ns, busy, total, own)

    def add_own(self, start_ns: int, end_ns: int, cpu_ns: int) -> None:
        """``cpu_ns`` of the run's own, used from ``start_ns`` to ``end_ns`` and told only now (a
        worker's boot, told by its hello): spread over that span in proportion to time (the split
        between windows is not measured, the total is), into the rows still held and the window
        now open; what fell before the oldest held row goes into that row."""
        if cpu_ns <= 0 or not self.available:
            return
        span = max(end_ns - start_ns, 1)
        rest = cpu_ns
        for i, (t0, t1, cpus, b, o) in enumerate(self._rows):
            lo = max(t0, start_ns) if i else start_ns  # the oldest held row takes what came before it
            part = cpu_ns * max(min(t1, end_ns) - lo, 0) // span
            if part:
                self._rows[i] = (t0, t1, cpus, b, o + part / (cpus * (t1 - t0)))
                rest -= part
        if rest > 0:  # the window now open (or, with no row held, the next one)
            self._extra_own += rest

    def close(self) -> None:
        """The run ended: every row may go now."""
        self._closed = True

    def _helpers_cpu_ns(self) -> int:
        """CPU used so far by the helper processes a run starts: multiprocessing's resource tracker
        (a Pool, a Lock, a Value, ... start it: part of the user's program) and procviz's guardian.
        Left out, a resource tracker booting mid-run (~30-60 ms of CPU) read as other programs'
        load. An exited helper keeps its last figure, so the sum never goes back."""
        for pid in _helper_pids():
            cpu = _process_cpu_ns(pid)
            if cpu is not None:
                self._helpers[pid] = max(cpu, self._helpers.get(pid, 0))
        return sum(self._helpers.values())

    def take(self) -> np.ndarray:
        """Rows of MACHINE_DTYPE that are no longer held (all of them once closed), own shares
        capped at the CPUs' busy share (a boot spread by time may overfill a row)."""
        if not self._rows:
            return np.zeros(0, MACHINE_DTYPE)
        cut = len(self._rows)
        if not self._closed:
            newest = self._rows[-1][1]
            cut = sum(1 for row in self._rows if row[1] <= newest - HOLD_NS)
        rows = [(t0, t1, c, b, min(o, b)) for t0, t1, c, b, o in self._rows[:cut]]
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
