"""The worker states of a ``procviz run`` Pool run before its engine exists (standard library only).

The head start hands a simple run's chunks to the Pool as soon as it exists
(:mod:`procviz.engine.backends.pool_submit`), so the workers run tasks while the parent still
imports numpy and the engine, ~50-100 ms in which the engine's
:class:`~procviz.engine.sampler.StateSampler` reads nothing. Its first read would then cover all
that time in one window, drawn as one proportioned bar where the strip should show each switch.
:class:`EarlySampler` reads the workers' counters on the sampler's own period meanwhile; the
engine takes the readings over (``StateSampler.early``) and feeds them to each lane's windows
from its hello on, as if it had read them itself: the strip has the same resolution from a
worker's ready time on, however late the engine began.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from procviz.engine.thread_files import GONE, Reading, ThreadFiles


class EarlySampler:
    """Reads the main thread of every process ``pids()`` names, every ``period_s``, until stopped."""

    def __init__(self, pids: Callable[[], list[int]], period_s: float) -> None:
        self._pids = pids
        self._period_s = period_s
        self._files: dict[int, ThreadFiles | None] = {}  # None: could not be opened (gone)
        self._readings: dict[int, list[Reading]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="procviz-early-sampler", daemon=True)

    def start(self) -> None:
        """Begin reading (on a daemon thread)."""
        self._thread.start()

    def stop(self) -> dict[int, list[Reading]]:
        """Stop reading and return every reading, by pid, oldest first (once; later calls: empty)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        for files in self._files.values():
            if files is not None:
                files.close()
        self._files.clear()
        out, self._readings = self._readings, {}
        return out

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            for pid in self._pids():
                if pid not in self._files:
                    try:
                        self._files[pid] = ThreadFiles(pid, pid)
                    except GONE:
                        self._files[pid] = None
                files = self._files[pid]
                if files is None:
                    continue
                t_ns = time.monotonic_ns()
                try:
                    cpu, ready, state = files.read()
                except GONE:
                    with contextlib.suppress(OSError):
                        files.close()
                    self._files[pid] = None
                    continue
                self._readings.setdefault(pid, []).append((t_ns, cpu, ready, state))
