"""One worker thread's kernel counters, read through kept descriptors (standard library only).

:class:`ThreadFiles` is what the engine's :class:`~procviz.engine.sampler.StateSampler` reads every
tick, and what ``procviz run``'s head start reads before the engine exists
(:mod:`procviz.engine.early_sampler`), so both read the same files the same way.
"""

from __future__ import annotations

import os

from procviz.engine.worker.clock import schedstat_path

# One read of a thread: (time.monotonic_ns() when read, on-CPU ns, run-queue wait ns, state letter).
Reading = tuple[int, int, int, str]
# How often the worker threads' counters are read: the engine's loop and sampler, and the head
# start's early sampler before the engine exists.
SAMPLE_PERIOD_S = 0.02
# What a read of a thread that is gone (or going) raises.
GONE = (OSError, ValueError, IndexError)


class ThreadFiles:
    """Kept descriptors on one thread's schedstat and stat files."""

    def __init__(self, pid: int, tid: int) -> None:
        self.sched = os.open(schedstat_path(pid, tid), os.O_RDONLY)
        try:
            self.stat = os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY)
        except OSError:
            self.stat = -1

    def read(self) -> tuple[int, int, str]:
        """(on-CPU ns, run-queue wait ns, state letter); raises OSError once the thread is gone."""
        state = "?"
        if self.stat >= 0:
            raw = os.pread(self.stat, 512, 0)
            state = chr(raw[raw.rfind(b")") + 2])
        fields = os.pread(self.sched, 96, 0).split()
        return int(fields[0]), int(fields[1]), state

    def close(self) -> None:
        """Close both descriptors (idempotent)."""
        for fd in (self.sched, self.stat):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sched = self.stat = -1
