"""Every backend end to end on real processes: measured like the Pool, and each showing its own truth.

Process-per-task shows process creation as "new"; ThreadPoolExecutor's CPU tasks wait for the GIL;
serial is the speedup-1 baseline; every backend honours the submission order. (The Pool's apply
one at a time and apply_async overlapping: tests/test_engine_pool.py.) ``leftover_children`` is shared with the
fault and scenario tests.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from engine_helpers import START_METHODS, function_workload, leftover_children, max_overlap, run_config

from procviz.engine.config import ConfigError, parse_config
from procviz.engine.events import TaskState

PROCESS_BACKENDS = ("process", "serial", "process_pool_executor")


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for sm in START_METHODS:
        cases += [("process", "map", sm), ("serial", "map", sm),
                  ("process_pool_executor", "map", sm), ("process_pool_executor", "submit", sm)]
    return cases + [("thread_pool_executor", "map", "spawn"), ("thread_pool_executor", "submit", "spawn")]


@pytest.mark.parametrize(("backend", "api", "start_method"), _cases())
def test_every_backend_runs_tasks_measured_on_its_own_lanes(backend: str, api: str, start_method: str) -> None:
    n = 6
    result = run_config({"backend": backend, "api": api, "workers": 2, "start_method": start_method,
                         "workload": function_workload("whoami", n)})
    tl = result.timeline
    assert result.outcome == "completed", result.message
    assert np.all(tl.state == TaskState.DONE)
    assert np.all(tl.start_ns >= tl.submitted_ns) and np.all(tl.end_ns >= tl.start_ns)
    assert np.all(tl.cpu_ns >= 0)  # measured by the same wrapper as the Pool
    workers = [lane for lane in tl.lanes if lane.kind != "parent"]
    expected_kind = "thread" if backend == "thread_pool_executor" else "process"
    assert {lane.kind for lane in workers} == {expected_kind}
    for task in range(n):  # each task's own os.getpid() is its lane's PID
        assert tl.texts[task].message == str(tl.lanes[tl.lane[task]].pid)
    if backend == "thread_pool_executor":
        assert {lane.pid for lane in workers} == {os.getpid()}  # threads of this one process
        assert len({lane.tid for lane in workers}) == len(workers) <= 2
    else:
        assert all(lane.exit_code == 0 and lane.created_ns <= lane.ready_ns for lane in workers), workers
    if backend == "process":
        assert len(workers) == n  # a Process per task
    if backend == "serial":
        assert len(workers) == 1
    if api == "submit":  # add_done_callback bars: one per task, on the thread that completed it
        spans = tl.spans.data
        assert len(spans) == n
        assert {tl.span_label(i) for i in spans["label"]} == {"done callback"}
        if backend == "process_pool_executor":
            parent = [lane for lane in tl.lanes if lane.kind == "parent"]
            assert len(parent) == 1 and np.all(spans["lane"] == parent[0].index)
    assert not leftover_children()


@pytest.mark.parametrize("start_method", START_METHODS)
def test_process_per_task_shows_a_new_span_per_task(start_method: str) -> None:
    result = run_config({"backend": "process", "workers": 2, "start_method": start_method,
                         "workload": {"kind": "sleep", "count": 4, "duration_ms": 20}})
    tl = result.timeline
    lanes = [tl.lanes[i] for i in tl.lane]
    assert len({lane.pid for lane in lanes}) == 4
    for task, lane in enumerate(lanes):
        assert lane.created_ns < lane.ready_ns  # process creation to hello: the "new" state
        assert lane.ready_ns <= tl.start_ns[task] <= tl.end_ns[task] <= lane.exit_ns
        assert lane.exit_code == 0 and "daemon" in lane.name
    # Never more than `workers` processes at once. Each is alive at least from its hello to its
    # task's end, both stamped by the worker itself (kernel creation times have 10 ms steps, and
    # an exit is stamped when the engine hears of it: up to ~100 ms late at load 5+, which once
    # made three overlap).
    assert max_overlap(np.array([lane.ready_ns for lane in lanes]), tl.end_ns.copy()) <= 2


def test_thread_pool_cpu_tasks_wait_for_the_gil() -> None:
    result = run_config({"backend": "thread_pool_executor", "workers": 2,
                         "workload": {"kind": "cpu", "count": 4, "duration_ms": 200}})
    tl = result.timeline
    wall = tl.wall_ns().sum()
    # two threads, one GIL: each runs Python about half of its wall time. The rest is blocked on
    # the GIL (waiting), plus run-queue time after each hand-over on a busy machine (ready).
    assert tl.cpu_ns.sum() < 0.7 * wall, (tl.cpu_ns, tl.wall_ns())
    assert tl.waiting_ns().sum() > 0.15 * wall, (tl.waiting_ns(), tl.ready_ns, tl.wall_ns())


def test_long_quiet_thread_tasks_are_not_taken_for_lost_events() -> None:
    # Nothing moves for over a second, then both futures resolve together: the results are in
    # before the END events are drained, which must not read as "events lost".
    result = run_config({"backend": "thread_pool_executor", "workers": 2, "api": "submit",
                         "workload": {"kind": "sleep", "count": 2, "duration_ms": 1200}})
    assert result.outcome == "completed", result.timeline.texts


def test_serial_is_the_speedup_one_baseline() -> None:
    result = run_config({"backend": "serial", "workers": 4,
                         "workload": {"kind": "sleep", "count": 5, "duration_ms": 80}})
    tl = result.timeline
    assert max_overlap(tl.start_ns, tl.end_ns) == 1
    assert 0.9 < result.metrics.speedup <= 1.0, result.metrics.speedup
    assert result.metrics.slots == 1


@pytest.mark.parametrize("backend", (*PROCESS_BACKENDS, "thread_pool_executor", "pool"))
@pytest.mark.parametrize("order", ("sjf", "ljf"))
def test_submission_order_is_the_start_order_on_one_worker(backend: str, order: str) -> None:
    result = run_config({"backend": backend, "workers": 1, "order": order,
                         "api": "apply" if backend == "pool" else "map",
                         "workload": {"kind": "sleep", "count": 4, "duration_ms": 20, "distribution": "uniform",
                                      "spread_ms": 15, "seed": 3}})
    tl = result.timeline
    started = np.argsort(tl.start_ns, kind="stable")
    cost = tl.cost_ms[started]
    assert np.all(np.diff(cost) >= 0) if order == "sjf" else np.all(np.diff(cost) <= 0), cost


def test_executor_map_chunks_run_back_to_back_on_one_worker() -> None:
    result = run_config({"backend": "process_pool_executor", "api": "map", "workers": 2, "chunksize": 3,
                         "workload": {"kind": "sleep", "count": 9, "duration_ms": 10}})
    tl = result.timeline
    for chunk in np.unique(tl.chunk):
        members = np.flatnonzero(tl.chunk == chunk)
        assert len(members) == 3 and len(set(tl.lane[members].tolist())) == 1


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"backend": "process_pool_executor", "maxtasksperchild": 2}, "maxtasksperchild", "gh-115634"),
    ({"backend": "thread_pool_executor", "task_timeout_s": 1.0}, "task_timeout_s", "cannot stop a thread"),
    ({"backend": "thread_pool_executor", "chunksize": 2}, "chunksize", "ignores chunksize"),
    ({"backend": "process_pool_executor", "api": "apply_async"}, "api", "submit"),
    ({"backend": "pool", "api": "submit"}, "api", "apply_async"),
    ({"backend": "process", "api": "imap"}, "api", "map"),
    ({"backend": "serial", "maxtasksperchild": 1}, "maxtasksperchild", "never replaced"),
    ({"backend": "process_pool_executor", "api": "submit", "chunksize": 2}, "chunksize", "one task per call"),
])
def test_options_a_backend_cannot_honour_are_refused_with_the_reason(changes: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"workers": 2, **changes})
    assert any(p.field == field and words in p.message for p in info.value.problems), info.value.problems
