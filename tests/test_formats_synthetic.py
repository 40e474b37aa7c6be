"""A synthetic Timeline built the way the engine builds one: EngineBatches fed to Timeline.apply.

``build_timeline(n, k)``: n tasks on k worker lanes plus a parent lane, with failures carrying
error texts (some reasons start like spreadsheet formulas), timeouts, tasks cancelled before they
started, one still running, one queued, one never submitted, a pair of slices that overlap by
clock jitter, unmeasured run-queue waits, OS-state intervals, resource samples, wait and callback
spans, worker exits (one killed). ``exotic=True`` adds text no CSV can carry exactly (a lone
surrogate, a NUL). The tests in this file check the builder itself.
"""

from __future__ import annotations

import numpy as np

from procviz.engine.config import RunConfig
from procviz.engine.events import (
    END_DTYPE,
    INTERVAL_DTYPE,
    RESOURCE_DTYPE,
    SPAN_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    RunPhase,
    RunStatus,
    TaskState,
    TaskText,
    WorkerState,
)
from procviz.engine.timeline import Timeline

T0 = 1_000_000_000_000  # 1000 s after boot, like a real CLOCK_MONOTONIC reading
MS = 1_000_000
PARENT_PID = 4000


def _rows(dtype: np.dtype, rows: list[tuple]) -> np.ndarray:
    return np.array(rows, dtype=dtype) if rows else np.zeros(0, dtype)


def build_timeline(n: int = 60, k: int = 3, exotic: bool = True, seed: int = 0) -> Timeline:
    """The synthetic timeline described in the module docstring."""
    assert n >= 12 and k >= 2
    rng = np.random.default_rng(seed)
    config = RunConfig(workers=k).to_json()
    arg_texts = tuple(f"({i},)" for i in range(n))
    arg_texts = arg_texts[:1] + ("-5", "@SUM(A1)", "+1", "'quoted", 'comma, "quote"', "line\nbreak",
                                 "ünïcode ✓") + arg_texts[8:]
    run = RunInfo(n_tasks=n, t0_ns=T0, config=config, host="test-host", cpu_count=4, schedstat=True,
                  arg_texts=arg_texts, cost_ms=tuple(float(c) for c in rng.uniform(1, 20, n).round(3)),
                  chunks=tuple(i // 2 for i in range(n)))
    lanes = [LaneInfo(index=i, pid=4100 + i, tid=4100 + i, kind="process", name=f"wörker {i}",
                      created_ns=T0 + 2 * MS + i * MS, ready_ns=T0 + 40 * MS + i * MS) for i in range(k)]
    parent = LaneInfo(index=k, pid=PARENT_PID, tid=4001, kind="parent", name="parent · callbacks")
    pending, queued, running = n - 1, n - 2, n - 3
    cancelled = {n - 4, n - 5}
    submitted = [(i, T0 + MS + i * 10_000) for i in range(n) if i != pending]

    started, ended, texts = [], [], []
    lane_clock = [lane.ready_ns + MS for lane in lanes]
    for i in range(n):
        if i in (pending, queued) or i in cancelled:
            continue
        lane = i % k
        start = lane_clock[lane]
        if i == k:  # second task of lane 0 starts 2 us before the first ended: clock jitter
            start -= 102_000
        wall = int(rng.integers(2 * MS, 9 * MS))
        end = start + wall
        lane_clock[lane] = end + 100_000
        started.append((i, lane, start))
        if i == running:
            continue
        cpu = int(wall * 0.7)
        ready = -1 if i % 5 == 0 else int(wall * 0.1)
        state = TaskState.DONE
        if i % 7 == 3:
            state = TaskState.FAILED
            texts.append(TaskText(i, "error", "ValueError", f"bad value {i}",
                                  f"Traceback (most recent call last):\n  File \"w.py\", line {i}\nValueError: {i}"))
        elif i % 11 == 5:
            state, cpu, ready = TaskState.TIMEOUT, -1, -1
            texts.append(TaskText(i, "error", "TaskTimeout", "ran longer than 0.005 s"))
        elif i % 13 == 6:
            texts.append(TaskText(i, "result", "", f"{i * i}"))
        ended.append((i, lane, state, -1, end, cpu, ready))
    for i in sorted(cancelled):
        ended.append((i, -1, TaskState.CANCELLED, -1, -1, -1, -1))
        texts.append(TaskText(i, "error", "Cancelled", "the run was stopped"))
    # Reasons a spreadsheet would run as formulas, a comma/quote/newline one.
    texts.append(TaskText(10, "error", "", "=1+2"))
    texts.append(TaskText(17, "error", "", "@cmd"))
    texts.append(TaskText(24, "error", "Weird", 'has "quotes", commas\nand lines'))
    if exotic:
        texts.append(TaskText(31, "error", "Bytes", "name \udc80 undecodable, \0 nul"))

    end_all = max(lane_clock) + 5 * MS
    intervals, resources, spans = [], [], []
    for lane in lanes:
        t, j = lane.ready_ns, 0
        while t < end_all:
            state = (WorkerState.RUNNING, WorkerState.WAITING, WorkerState.READY)[j % 3]
            step = 5 * MS
            intervals.append((lane.index, state, t, t + step, step // 2 if state == WorkerState.RUNNING else 0,
                              step // 3 if state == WorkerState.READY else 0))
            resources.append((lane.index, t, np.float32(90.5 + j % 7), 30 * 1048576 + j * 4096))
            t += step
            j += 1
    for i in range(0, n, 6):
        spans.append((0, T0 + 60 * MS + i * MS, T0 + 60 * MS + i * MS + 300_000, 0))
        spans.append((k, T0 + 61 * MS + i * MS, T0 + 61 * MS + i * MS + 50_000, 1))
    half = len(intervals) // 2
    exits = [LaneInfo(**{**_fields(lane), "exit_ns": end_all + lane.index * MS, "exit_code": 0,
                         "exit_reason": "exited normally"}) for lane in lanes[:-1]]
    killed = lanes[-1]
    exits.append(LaneInfo(**{**_fields(killed), "exit_ns": end_all, "exit_code": -9,
                             "exit_reason": "killed by SIGKILL"}))

    tl = Timeline()
    tl.apply(EngineBatch(run=run, lanes=(*lanes, parent), submitted=_rows(SUBMIT_DTYPE, submitted),
                         status=RunStatus(RunPhase.STARTING, "starting workers"), now_ns=T0 + MS))
    tl.apply(EngineBatch(started=_rows(START_DTYPE, started), intervals=_rows(INTERVAL_DTYPE, intervals[:half]),
                         resources=_rows(RESOURCE_DTYPE, resources[: len(resources) // 2]),
                         spans=_rows(SPAN_DTYPE, spans[:2]), span_labels=("lock.acquire", "callback"),
                         status=RunStatus(RunPhase.RUNNING, "running"), now_ns=T0 + 50 * MS))
    tl.apply(EngineBatch(lanes=tuple(exits), ended=_rows(END_DTYPE, ended), texts=tuple(texts),
                         intervals=_rows(INTERVAL_DTYPE, intervals[half:]),
                         resources=_rows(RESOURCE_DTYPE, resources[len(resources) // 2:]),
                         spans=_rows(SPAN_DTYPE, spans[2:]),
                         status=RunStatus(RunPhase.FINISHED, "stopped by the user", "stopped"),
                         now_ns=end_all + 10 * MS))
    return tl


def _fields(lane: LaneInfo) -> dict:
    return {name: getattr(lane, name) for name in LaneInfo.__dataclass_fields__}


def assert_same_tasks(a: Timeline, b: Timeline, columns: tuple[str, ...] = Timeline.TASK_COLUMNS) -> None:
    """Every listed task column equal (NaN equal to NaN)."""
    assert a.n_tasks == b.n_tasks
    for name in columns:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def assert_same_timeline(a: Timeline, b: Timeline) -> None:
    """Everything a Timeline holds, equal."""
    assert_same_tasks(a, b)
    assert a.run == b.run
    assert a.lanes == b.lanes
    assert list(a.texts.items()) == list(b.texts.items())
    for table in ("intervals", "resources", "spans"):
        assert np.array_equal(getattr(a, table).data, getattr(b, table).data), table
    assert a.span_labels == b.span_labels
    assert a.status == b.status
    assert a.now_ns == b.now_ns


# ---- the builder itself ---------------------------------------------------------------------------


def test_builder_covers_every_task_state():
    tl = build_timeline()
    counts = tl.state_counts()
    for state in TaskState:
        assert counts[state] > 0, state


def test_builder_has_a_jitter_overlap_and_unmeasured_ready():
    tl = build_timeline(k=3)
    first, second = 0, 3  # both on lane 0
    assert tl.lane[first] == tl.lane[second] == 0
    assert tl.start_ns[second] < tl.end_ns[first]
    assert (tl.ready_ns[tl.state == TaskState.DONE] == -1).any()


def test_builder_lanes_and_side_tables():
    tl = build_timeline(k=4)
    assert [lane.kind for lane in tl.lanes] == ["process"] * 4 + ["parent"]
    assert all(lane.exit_ns > 0 for lane in tl.lanes[:4])
    assert tl.lanes[3].exit_code == -9
    assert len(tl.intervals) and len(tl.resources) and len(tl.spans)
    assert tl.status is not None and tl.status.phase == RunPhase.FINISHED
