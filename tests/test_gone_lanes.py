"""A worker process that exits before the engine reads it still has its state strip (issue 10).

Under ``maxtasksperchild`` a worker may run its tasks and exit between two engine passes: gone,
and reaped by the Pool, before its hello is read, so the sampler can never open its files. Its
goodbye carries its main thread's counters as it exits (``WorkerBatch.final``), and the sampler
closes the lane's windows from the hello's counters to those: measured, not guessed. Real runs,
every start method; and the sampler's own rules with a real process.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from engine_helpers import open_descriptors, run_config

from procviz.engine.events import LaneKind
from procviz.engine.sampler import StateSampler
from procviz.engine.thread_files import ThreadFiles


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_every_worker_that_ran_a_task_has_a_strip_under_maxtasksperchild(start_method: str) -> None:
    result = run_config({"workers": 2, "start_method": start_method, "chunksize": 2, "maxtasksperchild": 3,
                         "workload": {"kind": "cpu", "count": 120, "duration_ms": 0.2}})
    assert result.outcome == "completed", result.message
    tl = result.timeline
    iv = tl.intervals.data
    ran = set(np.unique(tl.lane[tl.lane >= 0]).tolist())
    lanes = [i for i, lane in enumerate(tl.lanes) if lane.kind == LaneKind.PROCESS and i in ran]
    assert len(lanes) >= 10  # replaced every 3 chunks: many short-lived workers
    empty = [i for i in lanes if not np.any(iv["lane"] == i)]
    assert empty == []
    for i in lanes:  # from its ready time, never beyond its exit
        mine = iv[iv["lane"] == i]
        info = tl.lanes[i]
        assert mine["start_ns"].min() == info.ready_ns
        if info.exit_ns > 0:
            assert mine["end_ns"].max() <= info.exit_ns


def test_a_goodbyes_counters_end_a_gone_lanes_windows() -> None:
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.05)
        files = ThreadFiles(child.pid, child.pid)
        ready_ns = time.monotonic_ns()
        cpu0, wait0, _ = files.read()
        time.sleep(0.1)
        cpu1, wait1, _ = files.read()
        end_ns = time.monotonic_ns()
        files.close()
    finally:
        child.kill()
        child.wait()
    sampler = StateSampler(period_s=0.02, watch_exits=False, machine=False)
    sampler.add(3, child.pid, child.pid, ready_ns, (cpu0, wait0))  # gone already
    sampler.final_reading(child.pid, end_ns, cpu1, wait1)
    sampler.final_reading(child.pid, end_ns + 1, cpu1 + 1, wait1)  # once: a second one is nobody's
    intervals, _ = sampler.take()
    assert intervals["start_ns"].min() == ready_ns and intervals["end_ns"].max() == end_ns
    # Exactly what the kernel counted: placed in the windows, or, beyond their wall time, counted
    # as unplaced (schedstat's on-CPU field of a running thread lags by up to a tick: a busy
    # child's two reads 100 ms apart can say 104 ms, and a window holds at most its wall time).
    assert int(intervals["cpu_ns"].sum()) + sampler.unplaced_cpu_ns == cpu1 - cpu0
    assert set(intervals["lane"].tolist()) == {3}


@pytest.mark.parametrize("reaped_in", ["prime", "first_read"])
def test_a_worker_reaped_while_its_lane_is_added_leaves_no_descriptor_open(monkeypatch, reaped_in: str) -> None:
    """A worker can be reaped by its owner between the sampler's opens of its files and its first
    read of them (a full suite once kept 3 more descriptors after a fast run). The child is reaped
    exactly there: in the process file's priming read, or in the thread files' first read."""
    from procviz.engine import sampler as sampler_module

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    owner, name = ((sampler_module._ProcessUsage, "percent") if reaped_in == "prime"  # noqa: SLF001
                   else (ThreadFiles, "read"))
    original = getattr(owner, name)

    def reaped_first(self, *args, **kwargs):
        if child.poll() is None:
            child.kill()
            child.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, reaped_first)
    sampler = StateSampler(period_s=0.02, watch_exits=False, machine=False)
    before = sorted(open_descriptors().values())
    try:
        sampler.add(0, child.pid, child.pid, time.monotonic_ns())
    finally:
        child.kill()
        child.wait()
    assert child.returncode is not None and sampler.lanes == []  # it was gone by the first read
    assert sorted(open_descriptors().values()) == before

