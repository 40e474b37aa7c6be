"""The worker states of a ``procviz run`` Pool run are read before its engine exists (issue 10).

The head start hands a simple run's chunks to the Pool at once, so its workers run tasks while the
parent still imports; :class:`EarlySampler` reads their kernel counters meanwhile, and the engine's
sampler feeds those reads to each lane from its ready time on. Without them the engine's first
read covered that whole stretch with one window: one proportioned bar in the strip. Real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
from engine_helpers import wait_gone, worker_pids

from procviz.engine.config import parse_config
from procviz.engine.early_sampler import EarlySampler
from procviz.engine.events import LaneKind
from procviz.engine.head_start import HeadStart
from procviz.engine.runner import Engine
from procviz.engine.sampler import StateSampler
from procviz.engine.thread_files import ThreadFiles
from procviz.engine.worker.task_slot import slot_path


def _busy_child() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def test_the_early_sampler_reads_a_process_until_stopped() -> None:
    child = _busy_child()
    try:
        sampler = EarlySampler(lambda: [child.pid], 0.02)
        sampler.start()
        # Stopped once it has read the child 3 times and seen its CPU time grow, not after a fixed
        # 0.3 s (a loaded machine can give its thread fewer turns, or the child no CPU, meanwhile).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _grown(sampler._readings.get(child.pid, ())):  # noqa: SLF001
            time.sleep(0.02)
        readings = sampler.stop()
        assert sampler.stop() == {}  # once
        rows = readings[child.pid]
        assert len(rows) >= 3
        times, cpus, readies = (np.array([r[k] for r in rows]) for k in range(3))
        assert np.all(np.diff(times) > 0) and np.all(np.diff(cpus) >= 0) and np.all(np.diff(readies) >= 0)
        assert cpus[-1] > cpus[0]  # a busy process: its on-CPU time grew between the reads
        assert {r[3] for r in rows} <= set("RSDTtXZ")
    finally:
        child.kill()
        child.wait()


def _grown(rows) -> bool:
    """Whether ``rows`` (an early sampler's reads of one process) are 3 or more, and its on-CPU
    time grew between the first and the last."""
    rows = list(rows)
    return len(rows) >= 3 and rows[-1][1] > rows[0][1]


def test_early_reads_before_a_lanes_ready_time_or_below_its_counters_are_skipped() -> None:
    child = _busy_child()
    try:
        time.sleep(0.1)
        files = ThreadFiles(child.pid, child.pid)
        before = (time.monotonic_ns(), *files.read())
        time.sleep(0.05)
        ready_ns = time.monotonic_ns()
        cpu0, wait0, _ = files.read()
        later = []
        for _ in range(5):
            time.sleep(0.02)
            later.append((time.monotonic_ns(), *files.read()))
        files.close()
        sampler = StateSampler(period_s=0.02, watch_exits=False, machine=False)
        low = (later[0][0], cpu0 - 1, wait0, "R")  # counters below the lane's: not this lane's read
        sampler.early = {child.pid: [before, low, *later]}
        sampler.add(0, child.pid, child.pid, ready_ns, (cpu0, wait0))
        sampler.close_all(time.monotonic_ns())
        intervals, _ = sampler.take()
        assert len(intervals) and intervals["start_ns"].min() == ready_ns  # nothing before ready
        assert intervals["cpu_ns"].sum() > 0
        assert sampler.early == {}
    finally:
        child.kill()
        child.wait()


def test_a_late_engine_still_draws_the_strip_from_each_workers_ready_time() -> None:
    # the parent imports slowly on a loaded machine: the engine begins 0.7 s after the head start
    # while the workers already run the early-submitted tasks
    config = parse_config({"workers": 2, "workload": {"kind": "cpu", "count": 400, "duration_ms": 2}})
    head = HeadStart(config)
    assert head.creation.wait(30) and head.creation.early is not None and head.sampler is not None
    # The 0.7 s count from both workers' set-up (each makes its task slot as it becomes ready,
    # whether or not a task is left for it): the creation's end is their exec, and on a loaded
    # machine their boot could take most of 0.7 s, leaving their strips less than one interval
    # before the engine began.
    address, pids = head.places.receiver.address, [p.pid for p in head.creation.created.values()]
    deadline = time.monotonic() + 60
    while not all(os.path.exists(slot_path(address, pid)) for pid in pids):
        assert time.monotonic() < deadline, "the workers were not set up"
        time.sleep(0.01)
    time.sleep(0.7)
    engine_ns = time.monotonic_ns()
    engine = Engine()
    engine.start(config, head)
    result = engine.join(60)
    assert result is not None and result.outcome == "completed", result and result.message
    assert not head.sampler._thread.is_alive()  # taken over and stopped
    tl = result.timeline
    iv = tl.intervals.data
    lanes = [i for i, lane in enumerate(tl.lanes) if lane.kind == LaneKind.PROCESS]
    assert len(lanes) == 2
    for lane in lanes:
        mine = np.sort(iv[iv["lane"] == lane], order="start_ns")
        assert len(mine) and mine["start_ns"][0] == tl.lanes[lane].ready_ns  # the strip tiles from ready
        # read every 20 ms before the engine existed, so cut (0.25 s at most an interval) and not
        # one window from the worker's ready time to the engine's first read
        assert int(np.sum(mine["start_ns"] < engine_ns)) >= 2, mine
    assert not wait_gone(worker_pids(result))


def test_a_worker_gone_before_its_lane_is_added_keeps_the_strip_its_early_reads_measured() -> None:
    # maxtasksperchild: a worker can run all its tasks and exit while the engine is still starting
    child = _busy_child()
    files = ThreadFiles(child.pid, child.pid)
    ready_ns = time.monotonic_ns()
    cpu0, wait0, _ = files.read()
    files.close()
    sampler_early = EarlySampler(lambda: [child.pid], 0.02)
    sampler_early.start()
    deadline = time.monotonic() + 60  # 3 reads at least, however long a loaded machine takes to make them
    while len(sampler_early._readings.get(child.pid, ())) < 3 and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.02)
    child.kill()
    child.wait()  # reaped: nothing of it can be read any more
    readings = sampler_early.stop()[child.pid]
    assert len(readings) >= 3
    sampler = StateSampler(period_s=0.02, watch_exits=False, machine=False)
    sampler.early = {child.pid: readings}
    sampler.add(0, child.pid, child.pid, ready_ns, (cpu0, wait0))
    assert sampler.lanes == []  # nothing to sample: it waits for its goodbye's counters, or its end
    sampler.remove(0, time.monotonic_ns())  # its exit came without a goodbye (killed)
    intervals, _ = sampler.take()
    assert len(intervals)
    assert intervals["start_ns"].min() == ready_ns
    assert intervals["end_ns"].max() == max(r[0] for r in readings if r[3] not in "ZX")  # up to the last read
