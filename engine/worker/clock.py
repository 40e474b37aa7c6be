"""Clocks and kernel counters: one monotonic time base per host, schedstat, process start times.

All processes of a host share ``CLOCK_MONOTONIC``, so ``time.monotonic_ns()`` taken in a worker and
in the engine are directly comparable. Kernel process start times are in clock ticks since boot
(``CLOCK_BOOTTIME``); :func:`process_created_ns` converts them onto the monotonic base.
"""

from __future__ import annotations

import os
import time

_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def schedstat_path(pid: int | None = None, tid: int | None = None) -> str:
    """Path of a thread's schedstat file: the caller's own thread when both are None."""
    if pid is None:
        return "/proc/thread-self/schedstat"
    return f"/proc/{pid}/task/{tid if tid is not None else pid}/schedstat"


class SchedstatReader:
    """Reads one thread's (on-CPU ns, run-queue wait ns) from a kept file descriptor.

    ``pread`` on a kept descriptor costs about a microsecond, so it is cheap enough to call twice
    per task. ``available`` is False where the kernel has no schedstat (macOS, Windows, some
    kernels): callers then report CPU time only and leave "ready" unmeasured.
    """

    def __init__(self, path: str | None = None) -> None:
        self._fd = -1
        try:
            self._fd = os.open(path or schedstat_path(), os.O_RDONLY)
            self.read()
        except (OSError, ValueError, IndexError):
            self.close()

    @property
    def available(self) -> bool:
        """Whether reads return measured values."""
        return self._fd >= 0

    def read(self) -> tuple[int, int]:
        """(on-CPU ns, run-queue wait ns) so far; raises OSError once the thread is gone."""
        fields = os.pread(self._fd, 96, 0).split()
        return int(fields[0]), int(fields[1])

    def close(self) -> None:
        """Release the descriptor (safe to call twice)."""
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = -1


def boottime_offset_ns() -> int:
    """CLOCK_BOOTTIME minus CLOCK_MONOTONIC now (0 where BOOTTIME does not exist)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is None:
        return 0
    return time.clock_gettime_ns(boottime) - time.monotonic_ns()


def process_created_ns(pid: int) -> int | None:
    """When the kernel created ``pid``, on the monotonic base (10 ms steps), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        start_ticks = int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None
    return start_ticks * (1_000_000_000 // _TICKS_PER_S) - boottime_offset_ns()
