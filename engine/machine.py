"""The machine lane: how busy the run's CPUs were, split into the run's own work and other load.

Ready time means "runnable, no CPU free". Whether the CPUs were taken by the run's own workers
(more workers than cores: the lesson) or by other programs (a busy machine: not the run's doing)
is told apart here. Over each window of about 100 ms:

* busy: the non-idle time of the CPUs the run may use (its affinity set), from ``/proc/stat``
  (user + nice + system + irq + softirq + steal), as a share of those CPUs' capacity;
* own: the CPU time of the run's processes over the same window: the engine's process (which
  holds thread workers) from ``process_time_ns`` plus every worker process's thread counters
  (the sampler's schedstat deltas, final counters included), as a share of the same capacity;
* other = busy - own (never below 0): everything else on those CPUs.

``/proc/stat`` counts in clock ticks (10 ms), so a single window's split is good to a few
points; sums over a run are exact to a tick per CPU.
"""

from __future__ import annotations

import os
import time

import numpy as np

from procviz.engine.events import MACHINE_DTYPE

_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)
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
    return (busy * _TICK_NS, total * _TICK_NS) if total else None


class MachineSampler:
    """Samples the machine lane every ``every`` calls of :meth:`tick`; owned by the engine thread."""

    def __init__(self, every: int = 5, cpus: list[int] | None = None) -> None:
        self.cpus = cpus if cpus is not None else run_cpus()
        self.every = every
        self._calls = 0
        self._rows: list[tuple[int, int, int, float, float]] = []
        self._last: tuple[int, int, int, int] | None = None  # t, busy, total, own
        self.available = read_busy_ns(self.cpus) is not None

    def tick(self, now_ns: int, worker_cpu_ns: int, force: bool = False) -> None:
        """Called every sampler tick with the run's worker processes' CPU ns so far (a running sum)."""
        self._calls += 1
        if not self.available or not (force or self._calls % self.every == 0 or self._last is None):
            return
        read = read_busy_ns(self.cpus)
        if read is None:
            return
        own = worker_cpu_ns + time.process_time_ns()
        busy, total = read
        if self._last is not None:
            t0, busy0, total0, own0 = self._last
            capacity = total - total0
            if capacity > 0 and now_ns > t0:
                b = (busy - busy0) / capacity
                o = (own - own0) / capacity
                self._rows.append((t0, now_ns, len(self.cpus), min(max(b, 0.0), 1.0), min(max(o, 0.0), 1.0)))
        self._last = (now_ns, busy, total, own)

    def take(self) -> np.ndarray:
        """Rows of MACHINE_DTYPE gathered since the last call."""
        out = np.array(self._rows, dtype=MACHINE_DTYPE) if self._rows else np.zeros(0, MACHINE_DTYPE)
        self._rows.clear()
        return out


def other_load(machine: np.ndarray) -> tuple[float, float]:
    """(mean share of the run's CPUs used by other programs, the highest 1-window share)."""
    if len(machine) == 0:
        return 0.0, 0.0
    w = (machine["end_ns"] - machine["start_ns"]).astype(np.float64)
    other = np.maximum(machine["busy"].astype(np.float64) - machine["own"], 0.0)
    return float((other * w).sum() / w.sum()) if w.sum() > 0 else 0.0, float(other.max())
