"""Tasks handed over one by one and completion callbacks reach the engine as rows, taken in bulk
(engine/backends/handover.py): each keeps its own time and thread, none is lost or taken twice
while backend threads write, and a real ``apply_async`` / ``submit`` run hands the engine a few
bulk takes instead of a record per task."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from engine_helpers import run_config

from procviz.engine.backends.handover import CallbackLog, SubmissionLog
from procviz.engine.events import EngineBatch, RunInfo, Submitted
from procviz.engine.sampler import StateSampler
from procviz.engine.timeline import Timeline
from procviz.engine.tracker import RunTracker


def test_a_submission_log_keeps_each_tasks_time_and_the_bulk_hand_overs() -> None:
    log = SubmissionLog()
    assert log.take() == []
    log.put(Submitted(np.arange(3), 100))
    log.put_one(7, 200)
    log.put_one(5, 300)
    first = log.take()
    log.put_one(9, 400)  # written after the take: the rows taken before are not touched
    assert [s.task_ids.tolist() for s in first] == [[0, 1, 2], [7, 5]]
    assert first[0].t_ns == 100 and first[1].t_ns.tolist() == [200, 300]
    second = log.take()
    assert [(s.task_ids.tolist(), s.t_ns.tolist()) for s in second] == [([9], [400])]
    assert log.take() == []


def test_a_callback_log_keeps_thread_times_and_labels() -> None:
    log = CallbackLog()
    rows, labels = log.take()
    assert len(rows) == 0
    log.put(11, 1, 2, "callback")
    log.put(12, 3, 4, "error_callback")
    rows, labels = log.take()
    log.put(11, 5, 6, "callback")  # after the take: the rows taken are unchanged
    assert rows.tolist() == [(11, 1, 2, 0), (12, 3, 4, 1)]
    assert labels == ("callback", "error_callback")
    rows, labels = log.take()
    assert rows.tolist() == [(11, 5, 6, 0)] and labels[0] == "callback"


def test_rows_written_by_many_threads_while_the_engine_takes_are_taken_once_each() -> None:
    subs, cbs = SubmissionLog(), CallbackLog()
    writers, per_writer = 4, 20_000
    done = threading.Event()

    def write(w: int) -> None:
        for i in range(per_writer):
            task = w * per_writer + i
            subs.put_one(task, task + 1)
            cbs.put(w, task, task + 2, "callback" if i % 2 else "error_callback")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    ids: list[np.ndarray] = []
    times: list[np.ndarray] = []
    rows: list[np.ndarray] = []

    def take() -> None:
        for sub in subs.take():
            ids.append(sub.task_ids.copy())
            times.append(sub.t_ns.copy())
        got, labels = cbs.take()
        if len(got):
            assert set(labels) == {"callback", "error_callback"} or len(labels) == 1
            rows.append(got.copy())

    def wait_writers() -> None:
        for t in threads:
            t.join()
        done.set()

    threading.Thread(target=wait_writers).start()
    while not done.is_set():
        take()
    take()
    all_ids = np.concatenate(ids)
    assert np.array_equal(np.sort(all_ids), np.arange(writers * per_writer))  # each once
    assert np.array_equal(np.concatenate(times), all_ids + 1)  # each with its own time
    cb = np.concatenate(rows)
    assert len(cb) == writers * per_writer
    assert np.array_equal(np.sort(cb["start_ns"]), np.arange(writers * per_writer))
    assert np.array_equal(cb["end_ns"], cb["start_ns"] + 2)
    assert np.array_equal(cb["tid"], cb["start_ns"] // per_writer)


@pytest.mark.parametrize(("backend", "api", "label"), [
    ("pool", "apply_async", "callback"),
    ("thread_pool_executor", "submit", "done callback"),
])
def test_a_run_handing_tasks_over_one_by_one_reaches_the_engine_in_bulk(
        backend: str, api: str, label: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, every task was a record of its own on the way in (a Submitted and a callback span
    each, 2000 + 2000 here); now the engine takes what waits as rows, a take per pass."""
    taken: list[int] = []
    records: list[int] = []  # Submitted records per take
    callbacks: list[int] = []
    on_submissions, on_callbacks = RunTracker.on_submissions, RunTracker.on_callbacks

    def count_submissions(self: RunTracker, subs: list[Submitted]) -> None:
        taken.extend(len(s.task_ids) for s in subs)
        records.append(len(subs))
        on_submissions(self, subs)

    def count_callbacks(self: RunTracker, rows: np.ndarray, labels: tuple[str, ...]) -> None:
        if len(rows):
            callbacks.append(len(rows))
        on_callbacks(self, rows, labels)

    monkeypatch.setattr(RunTracker, "on_submissions", count_submissions)
    monkeypatch.setattr(RunTracker, "on_callbacks", count_callbacks)
    n = 2000
    result = run_config({"backend": backend, "workers": 2, "api": api, "start_method": "fork",
                         "workload": {"kind": "cpu", "count": n, "duration_ms": 0}})
    assert result.outcome == "completed", result.message
    assert sum(taken) == n and sum(callbacks) == n
    # Whatever the timing: a take of tasks handed over one by one is one record (a record per
    # task before), and callbacks come as rows.
    assert max(records) == 1
    tl = result.timeline
    parent = [lane.index for lane in tl.lanes if lane.kind == "parent"]
    if backend == "pool":  # the Pool's result thread runs them: one parent lane
        assert len(parent) == 1
        on_parent = tl.spans.data["lane"] == parent[0]
        assert np.count_nonzero(on_parent) == n
    spans = tl.spans.data
    assert {tl.span_label(i) for i in spans["label"]} == {label}
    assert np.all(spans["end_ns"] > spans["start_ns"])
    assert np.all(tl.submitted_ns >= tl.run.t0_ns)


def test_callback_labels_become_the_timelines_own_indices() -> None:
    """A log numbers its labels in the order it met them; the timeline numbers all span labels
    (wait spans' too) in its own order. Each callback keeps its own label in every timeline."""
    run = RunInfo(n_tasks=4, t0_ns=1000, config={}, host="h", cpu_count=2, schedstat=False)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    lane = tracker.lane_for(4242, 4242)
    tracker.span(lane, 1100, 1200, "lock.acquire")  # a wait span's label comes first: index 0
    log = CallbackLog()
    log.put(77, 2000, 2100, "error_callback")  # the log's code 0
    log.put(77, 2200, 2300, "callback")  # the log's code 1
    log.put(78, 2400, 2500, "error_callback")
    tracker.on_callbacks(*log.take())
    batch = tracker.cut(3000)
    assert batch is not None
    consumer = Timeline()
    consumer.apply(EngineBatch(run=run))
    consumer.apply(batch)
    for tl in (tracker.timeline, consumer):
        spans = tl.spans.data
        got = sorted((int(s["start_ns"]), tl.span_label(int(s["label"]))) for s in spans)
        assert got == [(1100, "lock.acquire"), (2000, "error_callback"), (2200, "callback"),
                       (2400, "error_callback")]
        parent = {lane.tid: lane.index for lane in tl.lanes if lane.kind == "parent"}
        assert set(parent) == {77, 78}  # a lane per thread that ran callbacks


def test_a_cancelled_futures_callback_is_said_cancelled_not_an_error() -> None:
    import concurrent.futures as cf

    from procviz.engine.backends.threads import ThreadPoolExecutorBackend
    from procviz.engine.config import parse_config

    backend = ThreadPoolExecutorBackend(parse_config({"backend": "thread_pool_executor"}), "/nonexistent/socket")
    done, failed, cancelled = cf.Future(), cf.Future(), cf.Future()
    done.set_result(1)
    failed.set_exception(ValueError("x"))
    cancelled.cancel()
    for future in (done, failed, cancelled):
        backend._on_done(future)
    rows, labels = backend.callbacks.take()
    assert [labels[i] for i in rows["label"]] == ["done callback", "done callback (error)", "done callback (cancelled)"]

