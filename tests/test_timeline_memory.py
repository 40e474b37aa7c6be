"""What a large run costs the parent in memory, counted in bytes (never timed).

* The engine's Timeline holds 45 bytes a task of its own: the chunk and planned-cost columns are
  the RunInfo's arrays, shared, not copied.
* Metrics at the end of a run take no column-sized temporaries (tracemalloc counts numpy's
  allocations, so the figure does not depend on the machine's load).
* A million tasks submitted at once reach the consumer in bounded batches, all of them by the
  run's last batch; the engine's own Timeline keeps their one submission time as one number.
* Counting states at the end of a run copies no column.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
from synthetic import finished_run

from procviz.engine.columns import ArrayColumn
from procviz.engine.events import EngineBatch, RunInfo, RunPhase, RunStatus, Submitted, TaskState
from procviz.engine.metrics import compute_metrics
from procviz.engine.sampler import StateSampler
from procviz.engine.tally import RunTally
from procviz.engine.timeline import Timeline
from procviz.engine.tracker import SUBMIT_ROWS, RunTracker

N = 200_000


def _engine_run(n: int = N) -> RunInfo:
    return RunInfo(n_tasks=n, t0_ns=10**12, config={"workers": 2, "workload": {"kind": "cpu"}}, host="h",
                   cpu_count=2, schedstat=True, cost_ms=ArrayColumn(np.full(n, 1.0)),
                   chunks=ArrayColumn(np.arange(n, dtype=np.int32) // 1000))


def _own_bytes(tl: Timeline, run: RunInfo) -> int:
    shared = {id(np.asarray(run.cost_ms).base), id(np.asarray(run.chunks).base)}
    total = 0
    for name in Timeline.TASK_COLUMNS:
        col = getattr(tl, name)
        if id(col.base) not in shared and id(col) not in shared:
            total += col.nbytes
    return total


def test_engine_timeline_keeps_45_bytes_a_task():
    run = _engine_run()
    tl = Timeline()
    tl.apply(EngineBatch(run=run))
    assert _own_bytes(tl, run) / N <= 45
    assert np.shares_memory(tl.chunk, np.asarray(run.chunks)) and np.shares_memory(tl.cost_ms, np.asarray(run.cost_ms))
    # a timeline whose run has tuples copies them (and its columns stay writable)
    copy = Timeline()
    copy.apply(EngineBatch(run=RunInfo(n_tasks=3, t0_ns=0, config={}, host="", cpu_count=1, schedstat=False,
                                       cost_ms=(1.0, 2.0, 3.0), chunks=(0, 0, 1))))
    copy.cost_ms[0] = 9.0
    assert list(copy.chunk) == [0, 0, 1]


def test_metrics_take_no_column_sized_temporaries():
    tl = finished_run(N, lanes=4)
    compute_metrics(tl)  # warm (imports, caches)
    tracemalloc.start()
    try:
        compute_metrics(tl)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few boolean masks (a byte a task each) and one chunk's temporaries; one int64 temporary of
    # every task would add 8 bytes a task on its own.
    assert peak < 4 * N + (2 << 20)


def test_submissions_reach_the_consumer_in_bounded_batches():
    n = 2 * SUBMIT_ROWS + 5
    tracker = RunTracker(_engine_run(n), StateSampler(watch_exits=False, machine=False))
    tally = RunTally()
    consumer = Timeline()
    for batch in (tracker.cut(10**12),):
        tally.apply(batch)
        consumer.apply(batch)
    tracker.on_submitted(Submitted(np.arange(n), 10**12 + 5))
    assert (tracker.timeline.state == TaskState.QUEUED).all()  # the engine's own timeline at once
    first = tracker.cut(10**12 + 6)
    assert first is not None and len(first.submitted) == SUBMIT_ROWS
    consumer.apply(first)
    last = tracker.cut(10**12 + 7, RunStatus(RunPhase.FINISHED, "done"))
    assert last is not None and len(last.submitted) == n - SUBMIT_ROWS  # the last batch carries the rest
    consumer.apply(last)
    assert (consumer.state == TaskState.QUEUED).all() and (consumer.submitted_ns == 10**12 + 5).all()


def test_one_submission_of_every_task_keeps_no_column():
    """A Pool's map submits every task at one time: the timeline keeps that one number (8 bytes a
    task less) until someone reads the column, which then holds it for every task."""
    run = _engine_run()
    tl = Timeline()
    tl.apply(EngineBatch(run=run))
    ids = np.arange(N)[::-1].copy()  # every task once, in any order
    tracemalloc.start()
    try:
        tl.mark_submitted(ids, 10**12 + 5)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < N // 10 and peak < 3 * N  # a byte a task to check, a byte for the states
    assert compute_metrics(tl).tasks == N and (tl.state == TaskState.QUEUED).all()
    assert (tl.submitted_ns == 10**12 + 5).all()  # made on reading
    tl.mark_submitted(np.arange(3), 10**12 + 9)  # a second submission writes the column
    assert tl.submitted_ns[:4].tolist() == [10**12 + 9] * 3 + [10**12 + 5]
    partial = Timeline()
    partial.apply(EngineBatch(run=_engine_run(10)))
    partial.mark_submitted(np.arange(5), 7)  # not every task: the column at once
    assert partial.submitted_ns.tolist() == [7] * 5 + [-1] * 5


def test_counting_states_takes_no_column_sized_temporary():
    """np.bincount copies what it counts into 8-byte integers: a million states would be 8 MB at
    the end of every run, the parent's peak."""
    tl = finished_run(N, lanes=4)
    tl.state_counts()
    tracemalloc.start()
    try:
        counts = tl.state_counts()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(counts.values()) == N and peak < 4 * N  # (8 * N for one copy of them all)


def test_a_reader_gives_its_columns_away_and_nothing_is_shared(tmp_path):
    """Readers hand their fresh task columns to the Timeline (no copy of 9 columns at 1M tasks);
    what it keeps equals the file, and no two columns (nor the file's source) share memory."""
    from procviz.engine.formats import read_timeline, write_timeline

    source = finished_run(2000)
    for name in ("run.json", "run.csv"):
        path = tmp_path / name
        write_timeline(source, path)
        loaded = read_timeline(path)
        columns = {n: getattr(loaded, n) for n in Timeline.TASK_COLUMNS}
        for i, a in enumerate(Timeline.TASK_COLUMNS):
            assert columns[a].flags.writeable and len(columns[a]) == 2000
            for b in Timeline.TASK_COLUMNS[i + 1:]:
                assert not np.shares_memory(columns[a], columns[b]), (name, a, b)
        for n in ("state", "lane"):
            assert np.array_equal(columns[n], getattr(source, n)), (name, n)
        ran = source.start_ns >= 0  # (a CSV's times are relative to its run's start: compare durations)
        assert np.array_equal((columns["end_ns"] - columns["start_ns"])[ran], (source.end_ns - source.start_ns)[ran])


def test_load_columns_adopts_only_fitting_columns():
    """A column of another type or a strided view is copied; a fitting one is taken as it is."""
    source = finished_run(100)
    tl = Timeline()
    fit = source.start_ns.copy()
    strided = np.repeat(source.end_ns, 2)[::2]
    wrong = source.lane.astype(np.int64)
    tl.load_columns(source.run, source.lanes, {"start_ns": fit, "end_ns": strided, "lane": wrong}, {},
                    source.intervals.data, source.resources.data, source.spans.data, [], None,
                    source.now_ns, adopt=True)
    assert tl.start_ns is fit
    assert tl.end_ns is not strided and tl.end_ns.flags.c_contiguous and np.array_equal(tl.end_ns, source.end_ns)
    assert tl.lane is not wrong and tl.lane.dtype == np.int32 and np.array_equal(tl.lane, source.lane)


def test_one_tasks_submission_time_makes_no_column() -> None:
    """A tooltip or a table cell reads one task's submission: the column stays one number."""
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=1000, t0_ns=0, config={}, host="h", cpu_count=2, schedstat=True))
    assert tl.submitted_at(7) == -1
    tl.mark_submitted(np.arange(1000), 5)
    assert tl.submitted_at(999) == 5 and tl._submitted_ns is None
    tl.mark_submitted(np.array([3]), 9)  # a task submitted again: the column is made
    assert tl.submitted_at(3) == 9 and tl.submitted_at(4) == 5
    assert tl.submitted_at(3) == int(tl.submitted_ns[3])
