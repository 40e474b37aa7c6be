"""The five states are measured, not guessed: compare kernel figures with what the tasks did.

Bounds are generous (shared, noisy machines); the README states the figures measured here.
Where load can move a figure, the test asserts what holds under any load instead.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from engine_helpers import max_overlap, run_config

from procviz.engine.events import TaskState, WorkerState
from procviz.engine.worker.clock import SchedstatReader

needs_schedstat = pytest.mark.skipif(not SchedstatReader().available, reason="no schedstat on this kernel")


@needs_schedstat
def test_more_cpu_workers_than_cores_show_ready_time() -> None:
    """What holds whatever else the machine runs: a busy loop never blocks, so its time off the CPU
    is run-queue wait (ready), never "waiting"; and more busy loops at once than cores means some
    of them waited in the run queue."""
    cores = os.cpu_count() or 1
    workers = 2 * cores
    result = run_config({"workers": workers, "api": "map", "chunksize": 1,
                         "workload": {"kind": "cpu", "count": 2 * workers, "duration_ms": 300}})
    tl = result.timeline
    assert np.all(tl.state == TaskState.DONE)
    wall, cpu, ready = tl.wall_ns(), tl.cpu_ns, tl.ready_ns
    assert np.all(ready >= 0), ready  # measured for every task (schedstat is available)
    # The split never claims more than the task's wall time (1 ms + 1% for the reads' skew).
    assert np.all(cpu + ready <= wall * 1.01 + 1_000_000), (cpu, ready, wall)
    # Off the CPU means in the run queue for a busy loop: waiting stays a sliver of the off-CPU time.
    off_cpu = wall - cpu
    assert ready.sum() >= 0.8 * off_cpu.sum() - len(wall) * 1_000_000, (ready.sum(), off_cpu.sum())
    # 2 x cores workers on a Pool of that size run more tasks at once than there are cores...
    assert max_overlap(tl.start_ns, tl.end_ns) > cores
    # ...so some of them sat runnable without a CPU, and the sampled state strip saw it too.
    assert ready.sum() > 0
    assert np.any(tl.intervals.data["state"] == WorkerState.READY)


def test_sleep_tasks_show_waiting_near_their_sleep() -> None:
    result = run_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 200}})
    tl = result.timeline
    waiting = tl.waiting_ns()
    assert np.all(waiting > 0.8 * 200e6), waiting
    assert np.all(tl.cpu_ns < 0.1 * 200e6)
    assert np.any(tl.intervals.data["state"] == WorkerState.WAITING)


def test_lone_cpu_task_is_on_cpu_near_its_wall_time() -> None:
    """A cpu task spins until its thread used 300 ms of CPU: that is what it measures, however long the
    machine's load makes it take; its time off the CPU is run-queue wait, never blocking."""
    result = run_config({"workers": 1, "workload": {"kind": "cpu", "count": 2, "duration_ms": 300}})
    tl = result.timeline
    wall = tl.wall_ns()
    assert np.all(tl.cpu_ns >= 300e6) and np.all(tl.cpu_ns <= wall), (tl.cpu_ns, wall)
    if SchedstatReader().available:
        assert np.all(tl.cpu_ns + tl.ready_ns >= 0.8 * wall), (tl.cpu_ns, tl.ready_ns, wall)
    # The strip (the worker's whole life) holds the tasks' CPU time, and draws a state a window
    # spent most of its time in: running where the spinner had a CPU most of the time (always on
    # an idle machine), ready where other programs kept it in the run queue longer than it ran.
    iv = tl.intervals.data
    assert iv["cpu_ns"].sum() >= 0.95 * tl.cpu_ns.sum(), (iv["cpu_ns"].sum(), tl.cpu_ns.sum())
    cpu, ready = tl.cpu_ns.sum(), max(tl.ready_ns.sum(), 0)
    drawn = set(iv["state"].tolist())
    assert drawn & {WorkerState.RUNNING, WorkerState.READY}, drawn
    if cpu >= 2 * ready:
        assert WorkerState.RUNNING in drawn, (drawn, cpu, ready)
    if ready >= 2 * cpu:
        assert WorkerState.READY in drawn, (drawn, cpu, ready)


def test_queued_time_grows_when_tasks_wait_for_a_worker() -> None:
    result = run_config({"workers": 1, "api": "map", "chunksize": 1,
                         "workload": {"kind": "sleep", "count": 4, "duration_ms": 100}})
    tl = result.timeline
    queued = tl.queued_ns()[np.argsort(tl.start_ns)]
    assert np.all(np.diff(queued) > 50e6)  # each task waits about one more task longer
