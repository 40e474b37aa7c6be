"""The engine's tracker hands its consumers batches that rebuild its own Timeline exactly.

Worker datagrams are replayed into a :class:`RunTracker` in random passes: tasks start in one
pass and end in a later one, start and end in the same pass (then they travel as one END row
carrying the start), or are still running at the end; a datagram may mix threads. After every
pass a consumer Timeline and a RunTally apply the cut batch; both must agree with the engine's
Timeline at every step, and the events counted must be every START and END sent.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import assert_same_tasks

from procviz.engine import tracker as tracker_module
from procviz.engine.events import (
    WIRE_EVENT_STRUCT,
    EventKind,
    RunInfo,
    Submitted,
    TaskState,
    WorkerBatch,
    WorkerHello,
)
from procviz.engine.sampler import StateSampler
from procviz.engine.tally import RunTally
from procviz.engine.timeline import Timeline
from procviz.engine.tracker import RunTracker

T0 = 10**12


def _rows(events: list[tuple[int, int, int, int]]) -> bytes:
    """Packed wire rows of (kind, tid, task, t_ns) events."""
    buf = bytearray(WIRE_EVENT_STRUCT.size * len(events))
    for k, (kind, tid, task, t) in enumerate(events):
        status = TaskState.DONE if task % 7 else TaskState.FAILED
        WIRE_EVENT_STRUCT.pack_into(buf, k * WIRE_EVENT_STRUCT.size, kind, status if kind == EventKind.END else 0,
                                    tid, task, t, 10 + task if kind == EventKind.END else 0,
                                    task % 5 if kind == EventKind.END else 0, 0)
    return bytes(buf)


def _stream(rng: np.random.Generator, n: int, workers: int, threads: bool) -> list[list[WorkerBatch]]:
    """Passes of datagrams: each worker runs its tasks in turn; events are cut into datagrams and
    datagrams into passes at random places."""
    per_worker: dict[int, list[tuple[int, int, int, int]]] = {}
    for task in range(n):
        pid = 100 + task % workers
        tid = pid + (1000 * (task % 2) if threads else 0)
        t = T0 + 1000 * task
        per_worker.setdefault(pid, []).append((EventKind.START, tid, task, t))
        if task < n - workers:  # the last task of each worker is still running
            per_worker[pid].append((EventKind.END, tid, task, t + 500))
    datagrams: list[WorkerBatch] = []
    for pid, events in per_worker.items():
        cuts = np.sort(rng.choice(np.arange(1, len(events)), size=min(len(events) - 1, 6), replace=False))
        for seq, part in enumerate(np.split(np.arange(len(events)), cuts)):
            hello = WorkerHello(pid, pid, T0, T0 + 1, True) if seq == 0 else None
            datagrams.append(WorkerBatch(pid, seq, _rows([events[i] for i in part]), hello=hello))
    order = np.argsort(rng.random(len(datagrams)) + np.array([b.seq for b in datagrams]), kind="stable")
    datagrams = [datagrams[i] for i in order]  # each worker's datagrams stay in its order
    passes = np.split(np.arange(len(datagrams)), np.sort(rng.choice(len(datagrams), size=4, replace=False)))
    return [[datagrams[i] for i in p] for p in passes]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("step_bytes", (0, 100))  # 100: a drain folded in a few rows at a time
def test_consumers_rebuild_the_engine_timeline(seed: int, step_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if step_bytes:
        monkeypatch.setattr(tracker_module, "SETTLE_BYTES", step_bytes)
    rng = np.random.default_rng(seed)
    n, workers, threads = int(rng.integers(20, 400)), int(rng.integers(1, 4)), bool(seed % 2)
    run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": workers, "workload": {"kind": "cpu"}}, host="h",
                  cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    consumer, tally = Timeline(), RunTally()
    events = 0
    first = tracker.cut(T0)
    assert first is not None
    consumer.apply(first)
    tally.apply(first)
    tracker.on_submitted(Submitted(np.arange(n), T0))
    for k, datagrams in enumerate(_stream(rng, n, workers, threads)):
        for b in datagrams:
            tracker.on_worker_batch(b, T0 + k)
        tracker.settle(T0 + k)
        batch = tracker.cut(T0 + k)
        if batch is None:
            continue
        events += batch.event_count() - len(batch.submitted)
        consumer.apply(batch)
        tally.apply(batch)
        assert_same_tasks(consumer, tracker.timeline)
        counted, truth = tally.state_counts(), tracker.timeline.state_counts()
        assert all(counted[s] == truth[s] for s in TaskState if s >= TaskState.RUNNING)  # what a tally counts
    ended = int(np.count_nonzero(tracker.timeline.state >= TaskState.DONE))
    assert ended == n - workers
    assert events == n + ended  # every START and every END counted once
    assert tally.state_counts()[TaskState.RUNNING] == workers
    assert (consumer.start_ns >= 0).all() and len(tracker.running) == workers


@pytest.mark.parametrize("seed", range(3))
def test_without_task_rows_the_engine_timeline_is_the_same(seed: int) -> None:
    """A tracker whose consumer wants no task rows (a quiet CLI) keeps the same Timeline and
    hands on batches without them."""
    timelines = []
    for task_rows in (True, False):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(20, 400))
        run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": 2, "workload": {"kind": "cpu"}}, host="h",
                      cpu_count=2, schedstat=True)
        tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False), task_rows=task_rows)
        tracker.on_submitted(Submitted(np.arange(n), T0))
        for k, datagrams in enumerate(_stream(rng, n, 2, False)):
            for b in datagrams:
                tracker.on_worker_batch(b, T0 + k)
            tracker.settle(T0 + k)
            batch = tracker.cut(T0 + k)
            rows = 0 if batch is None else len(batch.submitted) + len(batch.started) + len(batch.ended)
            assert task_rows or rows == 0
        tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, T0 + 99, "Cancelled", "stop")
        last = tracker.cut(T0 + 100)
        assert last is not None and (len(last.ended) > 0) == task_rows
        timelines.append(tracker.timeline)
    assert_same_tasks(*timelines)


@pytest.mark.parametrize("seed", range(3))
def test_submissions_taken_in_together_keep_each_ones_time(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine takes the submissions waiting in one go (apply_async hands tasks over one by
    one): each task keeps its own submission time, in the engine's Timeline and in the batches,
    cut SUBMIT_ROWS at a time, that a consumer applies."""
    monkeypatch.setattr(tracker_module, "SUBMIT_ROWS", 7)  # a submission cut across batches
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 200))
    run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": 2, "workload": {"kind": "cpu"}}, host="h",
                  cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    consumer = Timeline()
    order = rng.permutation(n)
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(2, 40))), replace=False))
    groups = np.split(order, cuts)  # tasks handed over one, or several, at a time
    times = {int(i): T0 + 1000 * k for k, g in enumerate(groups) for i in g}
    tracker.on_submissions([Submitted(g, T0 + 1000 * k) for k, g in enumerate(groups)])
    while (batch := tracker.cut(T0 + 10**6)) is not None:
        consumer.apply(batch)
    for tl in (tracker.timeline, consumer):
        assert [tl.submitted_at(i) for i in range(n)] == [times[i] for i in range(n)]
        assert (tl.state == TaskState.QUEUED).all()


def test_a_worker_text_after_the_engine_ended_its_task_wins_in_every_timeline() -> None:
    """The engine ends a task (a broken pool) and the worker's own error text of it arrives in the
    same cut: the engine's Timeline and a consumer's keep the same text (the worker's)."""
    from procviz.engine.events import TaskText

    n = 8
    run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": 2, "workload": {"kind": "cpu"}}, host="h",
                  cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    consumer = Timeline()
    first = tracker.cut(T0)
    assert first is not None
    consumer.apply(first)
    tracker.on_submitted(Submitted(np.arange(n), T0))
    tracker.end_tasks(np.arange(n), TaskState.FAILED, T0 + 5, "BrokenProcessPool", "the pool broke")
    own = TaskText(3, "error", "ValueError", "bad 3", "Traceback ...")
    tracker.on_worker_batch(WorkerBatch(pid=1, seq=0, rows=b"", texts=(own,)), T0 + 6)
    tracker.settle(T0 + 6)
    while (batch := tracker.cut(T0 + 7)) is not None:
        consumer.apply(batch)
    assert tracker.timeline.texts[3] == own
    assert consumer.texts[3] == own
    assert consumer.texts[2].type_name == "BrokenProcessPool"
