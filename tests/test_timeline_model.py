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
    assert (m.startup_ns, m.work_ns) == (10 * MS, 100 * MS)  # first start at 10 ms
    assert m.busy_ns == 200 * MS
    assert m.serial_estimate_ns == 195 * MS  # on-CPU + own blocking, less the 5 ms run-queue wait
    assert not m.speedup_measured and abs(m.speedup - 195 / 100) < 1e-9
    assert abs(m.utilization - 200 / (100 * 2)) < 1e-9  # slot occupancy over the work time
    assert abs(m.cpu_share - 150 / (100 * 2)) < 1e-9
    assert m.mean_wait_ns == (15 + 60 + 10) * MS // 3  # (10 + 5, 60 + 0, 10 + 0) / 3: queued + ready
    assert m.mean_turnaround_ns == (60 + 110 + 110) * MS // 3
    assert (m.done, m.failed, m.cancelled) == (2, 1, 1)
    assert [lane.tasks for lane in m.lanes] == [2, 1]
    assert m.cpu_ns == 150 * MS and m.ready_ns == 5 * MS


def _threads_run(cpu_ms: int, blocked_others: bool) -> Timeline:
    """Two thread lanes of one process, one 100 ms task each; ``blocked_others``: each task is
    blocked while the other thread is on the CPU (the GIL), else blocked while nobody runs (sleep)."""
    from procviz.engine.events import INTERVAL_DTYPE, WorkerState

    tl = Timeline()
    run = RunInfo(n_tasks=2, t0_ns=0, config={"workers": 2, "backend": "thread_pool_executor"}, host="h",
                  cpu_count=2, schedstat=True)
    lanes = (LaneInfo(0, 7, 70, "thread", "thread 0"), LaneInfo(1, 7, 71, "thread", "thread 1"))
    iv = []
    for lane in (0, 1):
        # lane 0 on CPU in the first half, lane 1 in the second (GIL) or both at the start (sleep)
        first = lane == 0 or not blocked_others
        on, off = (0, 50) if first else (50, 100)
        iv += [(lane, WorkerState.RUNNING, on * MS, off * MS, cpu_ms * MS, 0)]
        rest = (off, 100) if on == 0 else (0, 50)
        iv += [(lane, WorkerState.WAITING, rest[0] * MS, rest[1] * MS, 0, 0)]
    tl.apply(EngineBatch(run=run, lanes=lanes, submitted=_rows(SUBMIT_DTYPE, [(0, 0), (1, 0)]),
                         started=_rows(START_DTYPE, [(0, 0, 0), (1, 1, 0)]),
                         ended=_rows(END_DTYPE, [(0, 0, TaskState.DONE, -1, 100 * MS, cpu_ms * MS, 0),
                                                 (1, 1, TaskState.DONE, -1, 100 * MS, cpu_ms * MS, 0)]),
                         intervals=np.array(iv, INTERVAL_DTYPE)))
    return tl


def test_gil_turns_are_not_counted_as_work_but_sleeps_are() -> None:
    gil = compute_metrics(_threads_run(50, blocked_others=True))
    assert gil.serial_estimate_ns == 100 * MS and abs(gil.speedup - 1.0) < 1e-9  # 2 x 50 ms on-CPU only
    sleepy = compute_metrics(_threads_run(50, blocked_others=False))
    assert sleepy.serial_estimate_ns == 200 * MS  # both blocked while nobody ran: their own sleeps


def test_a_measured_serial_run_of_the_same_work_gives_the_speedup() -> None:
    tl = _threads_run(50, blocked_others=True)
    serial = Timeline()
    run = RunInfo(n_tasks=2, t0_ns=0, config={"workers": 1, "backend": "serial"}, host="h", cpu_count=2,
                  schedstat=True)
    serial.apply(EngineBatch(run=run, lanes=(LaneInfo(0, 7, 70, "thread", "serial"),),
                             submitted=_rows(SUBMIT_DTYPE, [(0, 0), (1, 0)]),
                             started=_rows(START_DTYPE, [(0, 0, 0), (1, 0, 60 * MS)]),
                             ended=_rows(END_DTYPE, [(0, 0, TaskState.DONE, -1, 60 * MS, 50 * MS, 0),
                                                     (1, 0, TaskState.DONE, -1, 120 * MS, 50 * MS, 0)])))
    assert serial.run is not None and tl.run is not None
    # different workloads (none given on either side counts as the same here): a baseline is used
    m = compute_metrics(tl, baseline=serial)
    assert m.speedup_measured and m.serial_estimate_ns == 120 * MS and abs(m.speedup - 1.2) < 1e-9
    other = Timeline()
    other.apply(EngineBatch(run=RunInfo(2, 0, {"workers": 1, "backend": "serial", "workload": {"kind": "io"}},
                                        "h", 2, True)))
    assert not compute_metrics(tl, baseline=other).speedup_measured  # not the same work: ignored


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


def test_a_text_of_a_task_the_run_has_not_is_not_kept(tmp_path) -> None:
    """Kept, it was written into files every reader then refused (procviz's own included)."""
    from procviz.engine.events import TaskText
    from procviz.engine.formats import read_timeline, write_timeline

    tl = two_lane_run()
    tl.apply(EngineBatch(texts=(TaskText(1, "error", "ValueError", "bad"), TaskText(4, "error", "X", "no such"),
                                TaskText(-1, "error", "X", "none"))))
    assert sorted(tl.texts) == [1]
    path = tmp_path / "t.json"
    write_timeline(tl, path)
    assert sorted(read_timeline(path).texts) == [1]
