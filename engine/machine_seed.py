"""The machine lane's first reading, taken at the run's start (standard library only).

The lane's sampler (:class:`procviz.engine.machine.MachineSampler`) lives in the engine, which
exists only once numpy and the engine are imported and the workers are being created: 0.3-0.5 s
into a ``procviz run``, 1.4 s into a Pool of 10 spawn workers on 2 CPUs. Its first reading was
the lane's start, so the CPUs' load over the boot (the workers' imports, the parent's, other
programs') was in no row at all: "other load" said nothing of the run's first moments. A
:class:`MachineSeed` is the same reading taken at the run's ``t0`` (by the head start, before
those imports, or by the engine's thread as it begins): the lane then starts there, its first row
spanning up to the sampler's first own reading.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from procviz.engine.guardian_proc import children_of, read_file
from procviz.engine.worker.clock import boottime_offset_ns

TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)  # /proc/stat's unit
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
        text = read_file("/proc/stat")
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


def stat_fields(raw: bytes) -> list[bytes]:
    """The fields of a ``/proc/<pid>/stat`` text from the 3rd on (the name may hold spaces)."""
    return raw[raw.rfind(b")") + 2:].split()


def process_cpu_ns(pid: int, start: int = -1) -> tuple[int, int] | None:
    """(start time in clock ticks since boot, CPU ns so far) of a process: its user + system time
    and that of its children it has reaped (``/proc/<pid>/stat``, in clock ticks, rounded down);
    None if it is gone (reaped), or if ``start`` is given and the PID is another process's now."""
    try:
        fields = stat_fields(read_file(f"/proc/{pid}/stat"))
        started = int(fields[19])
        if start >= 0 and started != start:
            return None
        return started, (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) * TICK_NS
    except (OSError, IndexError, ValueError):
        return None


def reaped_children_cpu_ns() -> int:
    """CPU ns of every child this process has reaped, with their reaped descendants (exact; 0
    where there is no ``resource`` module: the machine lane then has no ``/proc/stat`` either)."""
    try:
        import resource
    except ImportError:
        return 0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * 1e9)


def now_in_start_ticks() -> int:
    """Now, in the kernel's unit of a process's start time (clock ticks since boot): a process
    whose start time is below this started before now."""
    return (time.monotonic_ns() + boottime_offset_ns()) // TICK_NS


@dataclass(frozen=True, slots=True)
class MachineSeed:
    """The counters the machine lane starts from: when (``t_ns``, the monotonic clock), the CPUs'
    busy and total time, this process's CPU and its reaped children's, ``start_ticks`` (processes
    started from then on are the run's), and this process's children then, as (pid, start, CPU
    ns): a helper started just before (the command line starts the resource tracker a few ms ahead
    of its run) is the run's from here, and a child reaped before the sampler exists adds only
    what it used since."""

    cpus: tuple[int, ...]
    t_ns: int
    busy_ns: int
    total_ns: int
    process_ns: int
    reaped_ns: int
    start_ticks: int
    children: tuple[tuple[int, int, int], ...] = ()


def take_seed(t_ns: int | None = None) -> MachineSeed | None:
    """The machine's counters now (``t_ns``: the run's start, just taken); None without /proc/stat."""
    cpus = run_cpus()
    start_ticks = now_in_start_ticks()
    t = time.monotonic_ns() if t_ns is None else t_ns
    read = read_busy_ns(cpus)
    if read is None:
        return None
    process, reaped = time.process_time_ns(), reaped_children_cpu_ns()
    # Read after the reaped figure (as MachineSampler._own_ns reads them): a child reaped in between,
    # microseconds apart, is in neither, and counts whole as the run's; never taken out twice.
    children = tuple((pid, *r) for pid in children_of(os.getpid()) if (r := process_cpu_ns(pid)) is not None)
    return MachineSeed(tuple(cpus), t, read[0], read[1], process, reaped, start_ticks, children)
