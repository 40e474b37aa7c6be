"""The Timeline model and metrics on hand-made engine batches (exact numbers)."""

from __future__ import annotations

import numpy as np

from procviz.engine.events import END_DTYPE, START_DTYPE, SUBMIT_DTYPE, EngineBatch, LaneInfo, RunInfo, TaskState
from procviz.engine.metrics import compute_metrics
from procviz.engine.timeline import GrowableColumns, Timeline

MS = 1_000_000


def _rows(dtype, rows) -> np.ndarray:
    return np.array(rows, dtype=dtype)


def two_lane_run() -> Timeline:
    """Four tasks on two lanes: 0 and 1 on lane 0 back to back, 2 on lane 1, 3 cancelled unstarted."""
    tl = Timeline()
    run = RunInfo(n_tasks=4, t0_ns=0, config={"workers": 2, "backend": "pool"}, host="h", cpu_count=2,
                  schedstat=True)
    lanes = (LaneInfo(0, 100, 100, "process", "worker 0"), LaneInfo(1, 101, 101, "process", "worker 1"))
    tl.apply(EngineBatch(run=run, lanes=lanes, submitted=_rows(SUBMIT_DTYPE, [(i, 0) for i in range(4)])))
    tl.apply(EngineBatch(started=_rows(START_DTYPE, [(0, 0, 10 * MS), (2, 1, 10 * MS)])))
    assert tl.state[0] == TaskState.RUNNING and tl.state[3] == TaskState.QUEUED
    tl.apply(EngineBatch(
        started=_rows(START_DTYPE, [(1, 0, 60 * MS)]),
        ended=_rows(END_DTYPE, [(0, 0, TaskState.DONE, -1, 60 * MS, 40 * MS, 5 * MS),
                                (1, 0, TaskState.FAILED, -1, 110 * MS, 10 * MS, 0),
                                (2, 1, TaskState.DONE, -1, 110 * MS, 100 * MS, -1),
                                (3, -1, TaskState.CANCELLED, -1, -1, -1, -1)]),
        now_ns=120 * MS,
    ))
    return tl


def test_apply_updates_columns_and_states() -> None:
    tl = two_lane_run()
    assert tl.state.tolist() == [TaskState.DONE, TaskState.FAILED, TaskState.DONE, TaskState.CANCELLED]
    assert tl.wall_ns().tolist() == [50 * MS, 50 * MS, 100 * MS, -1]
    assert tl.queued_ns().tolist() == [10 * MS, 60 * MS, 10 * MS, -1]
    # waiting = wall - cpu - ready (unmeasured ready counts as 0)
    assert tl.waiting_ns().tolist() == [5 * MS, 40 * MS, 0, -1]
    assert tl.finished_count() == 4


def test_metrics_are_exact_on_known_data() -> None:
    m = compute_metrics(two_lane_run())
    assert m.makespan_ns == 110 * MS  # first submission (0) to last end
    assert m.busy_ns == 200 * MS
    assert m.serial_estimate_ns == 195 * MS  # wall less the 5 ms of run-queue wait of task 0
    assert abs(m.speedup - 195 / 110) < 1e-9
    assert abs(m.utilization - 200 / (110 * 2)) < 1e-9
    assert (m.done, m.failed, m.cancelled) == (2, 1, 1)
    assert [lane.tasks for lane in m.lanes] == [2, 1]
    assert m.cpu_ns == 150 * MS and m.ready_ns == 5 * MS


def test_subscribers_hear_changes_and_can_leave() -> None:
    tl = Timeline()
    seen = []
    leave = tl.subscribe(seen.append)
    tl.apply(EngineBatch(run=RunInfo(1, 0, {}, "h", 1, True)))
    assert seen and seen[-1].reset and seen[-1].tasks
    leave()
    tl.apply(EngineBatch(now_ns=5))
    assert len(seen) == 1


def test_running_tasks_extend_to_the_live_edge() -> None:
    tl = Timeline()
    tl.apply(EngineBatch(run=RunInfo(2, 0, {}, "h", 1, True), started=_rows(START_DTYPE, [(0, 0, 5)]), now_ns=50))
    assert tl.end_or_now_ns().tolist() == [50, -1]


def test_growable_columns_keep_every_row() -> None:
    cols = GrowableColumns(np.dtype([("a", "<i8")]), capacity=2)
    for i in range(100):
        cols.append(np.array([(i,)], dtype=cols.data.dtype))
    assert cols.data["a"].tolist() == list(range(100))
