"""Per-worker OS state over time, measured from the kernel, plus CPU% and RSS from psutil.

Every ``period`` the sampler reads each live worker thread's ``/proc/<pid>/task/<tid>/schedstat``
(on-CPU ns, run-queue wait ns) through a kept descriptor. Over one sample window of wall time W
with deltas C (on-CPU) and R (run-queue wait), the blocked time is B = W - C - R, and the window
is labelled with the state the worker spent most of it in: RUNNING (C), READY (R) or WAITING (B).
Consecutive windows with the same label merge into one interval carrying the summed C and R, so
the exact split is kept even where the label rounds it. An open interval is cut every
``max_interval_s`` so a live view sees it grow.

NEW (created -> ready) and TERMINATED (after exit) come from the lane's lifecycle, not from here.
Where schedstat is missing, windows are split with psutil CPU times only and READY never appears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psutil

from procviz.engine.clock import SchedstatReader, schedstat_path
from procviz.engine.events import INTERVAL_DTYPE, RESOURCE_DTYPE, WorkerState


@dataclass(slots=True)
class _Open:
    """The interval being built for one lane."""

    state: int
    start_ns: int
    cpu_ns: int = 0
    ready_ns: int = 0


class _LaneProbe:
    """Kernel counters of one worker thread (schedstat) and its process (psutil)."""

    def __init__(self, lane: int, pid: int, tid: int, now_ns: int) -> None:
        self.lane = lane
        self.pid = pid
        self.reader = SchedstatReader(schedstat_path(pid, tid))
        self.proc: psutil.Process | None
        try:
            self.proc = psutil.Process(pid)
            self.proc.cpu_percent(None)  # prime: the first call always answers 0.0
        except psutil.Error:
            self.proc = None
        self.last_t = now_ns
        self.last_cpu, self.last_ready = self._counters()
        self.open: _Open | None = None

    def _counters(self) -> tuple[int, int]:
        if self.reader.available:
            return self.reader.read()
        if self.proc is not None:
            t = self.proc.cpu_times()
            return int((t.user + t.system) * 1e9), 0
        raise OSError("no counters")


class StateSampler:
    """Samples worker lanes; owned and called by the engine thread only."""

    def __init__(self, period_s: float = 0.02, resource_every: int = 5, max_interval_s: float = 0.25) -> None:
        self.period_s = period_s
        self.resource_every = resource_every
        self.max_interval_ns = int(max_interval_s * 1e9)
        self._probes: dict[int, _LaneProbe] = {}
        self._ticks = 0
        self._intervals: list[tuple[int, int, int, int, int, int]] = []
        self._resources: list[tuple[int, int, float, int]] = []

    def add(self, lane: int, pid: int, tid: int, now_ns: int) -> None:
        """Start sampling a lane's thread (from the moment it is ready)."""
        try:
            self._probes[lane] = _LaneProbe(lane, pid, tid, now_ns)
        except (OSError, ValueError, IndexError):
            pass  # already gone: its lifecycle still shows new and terminated

    def remove(self, lane: int, now_ns: int) -> None:
        """Stop sampling a lane (it exited): close its open interval at ``now_ns``."""
        probe = self._probes.pop(lane, None)
        if probe is not None:
            self._close(probe, min(now_ns, max(probe.last_t, now_ns)))
            probe.reader.close()

    def sample(self, now_ns: int) -> None:
        """Take one sample of every lane."""
        self._ticks += 1
        with_resources = self._ticks % self.resource_every == 0
        for lane, probe in list(self._probes.items()):
            try:
                cpu, ready = probe._counters()
            except (OSError, ValueError, IndexError, psutil.Error):
                self.remove(lane, probe.last_t)
                continue
            wall = now_ns - probe.last_t
            if wall <= 0:
                continue
            d_cpu = max(cpu - probe.last_cpu, 0)
            d_ready = max(ready - probe.last_ready, 0)
            blocked = wall - d_cpu - d_ready
            if d_cpu >= d_ready and d_cpu >= blocked:
                state = WorkerState.RUNNING
            elif d_ready >= blocked:
                state = WorkerState.READY
            else:
                state = WorkerState.WAITING
            o = probe.open
            if o is not None and (o.state != state or now_ns - o.start_ns > self.max_interval_ns):
                self._close(probe, probe.last_t)
                o = None
            if o is None:
                o = probe.open = _Open(int(state), probe.last_t)
            o.cpu_ns += d_cpu
            o.ready_ns += d_ready
            probe.last_t, probe.last_cpu, probe.last_ready = now_ns, cpu, ready
            if with_resources and probe.proc is not None:
                try:
                    self._resources.append((lane, now_ns, probe.proc.cpu_percent(None), probe.proc.memory_info().rss))
                except psutil.Error:
                    pass

    def _close(self, probe: _LaneProbe, end_ns: int) -> None:
        o = probe.open
        if o is not None and end_ns > o.start_ns:
            self._intervals.append((probe.lane, o.state, o.start_ns, end_ns, o.cpu_ns, o.ready_ns))
        probe.open = None

    def close_all(self, now_ns: int) -> None:
        """Close every open interval (end of run)."""
        for lane in list(self._probes):
            self.remove(lane, now_ns)

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The intervals and resource samples gathered since the last call."""
        intervals = np.array(self._intervals, dtype=INTERVAL_DTYPE) if self._intervals else np.zeros(0, INTERVAL_DTYPE)
        resources = np.array(self._resources, dtype=RESOURCE_DTYPE) if self._resources else np.zeros(0, RESOURCE_DTYPE)
        self._intervals.clear()
        self._resources.clear()
        return intervals, resources

    @property
    def lanes(self) -> list[int]:
        """Lanes being sampled."""
        return list(self._probes)
