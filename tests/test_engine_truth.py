"""The five states are measured, not guessed: compare kernel figures with what the tasks did.

Bounds are generous (shared, noisy machines); the README states the figures measured here.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from engine_helpers import run_config

from procviz.engine.clock import SchedstatReader
from procviz.engine.events import TaskState, WorkerState

needs_schedstat = pytest.mark.skipif(not SchedstatReader().available, reason="no schedstat on this kernel")


@needs_schedstat
def test_more_cpu_workers_than_cores_show_ready_time() -> None:
    cores = os.cpu_count() or 1
    workers = 2 * cores
    result = run_config({"workers": workers, "api": "map", "chunksize": 1,
                         "workload": {"kind": "cpu", "count": 2 * workers, "duration_ms": 300}})
    tl = result.timeline
    assert np.all(tl.state == TaskState.DONE)
    wall = tl.wall_ns().sum()
    ready_share = tl.ready_ns.sum() / wall
    cpu_share = tl.cpu_ns.sum() / wall
    # twice as many busy workers as cores: each is on a CPU about half the time, ready the rest
    assert 0.25 < ready_share < 0.75, ready_share
    assert 0.25 < cpu_share < 0.75, cpu_share
    # and the sampled state strip saw READY too
    assert np.any(tl.intervals.data["state"] == WorkerState.READY)


def test_sleep_tasks_show_waiting_near_their_sleep() -> None:
    result = run_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 200}})
    tl = result.timeline
    waiting = tl.waiting_ns()
    assert np.all(waiting > 0.8 * 200e6), waiting
    assert np.all(tl.cpu_ns < 0.1 * 200e6)
    assert np.any(tl.intervals.data["state"] == WorkerState.WAITING)


def test_lone_cpu_task_is_on_cpu_near_its_wall_time() -> None:
    result = run_config({"workers": 1, "workload": {"kind": "cpu", "count": 2, "duration_ms": 300}})
    tl = result.timeline
    assert np.all(tl.cpu_ns > 0.8 * tl.wall_ns()), (tl.cpu_ns, tl.wall_ns())
    assert np.any(tl.intervals.data["state"] == WorkerState.RUNNING)


def test_queued_time_grows_when_tasks_wait_for_a_worker() -> None:
    result = run_config({"workers": 1, "api": "map", "chunksize": 1,
                         "workload": {"kind": "sleep", "count": 4, "duration_ms": 100}})
    tl = result.timeline
    queued = tl.queued_ns()[np.argsort(tl.start_ns)]
    assert np.all(np.diff(queued) > 50e6)  # each task waits about one more task longer
