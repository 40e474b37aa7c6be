"""End-to-end runs of every Pool API on real processes, under spawn and forkserver."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import (
    START_METHODS,
    function_workload,
    max_overlap,
    rendezvous_workload,
    run_config,
    wait_gone,
    worker_pids,
)

from procviz.engine.events import TaskState

APIS = ("map", "map_async", "imap", "imap_unordered", "starmap", "apply", "apply_async")


@pytest.mark.parametrize("start_method", START_METHODS)
@pytest.mark.parametrize("api", APIS)
def test_every_pool_api_runs_twenty_tasks(api: str, start_method: str) -> None:
    result = run_config({"workers": 2, "api": api, "start_method": start_method,
                         "workload": function_workload("whoami", 20)})
    tl = result.timeline
    assert result.outcome == "completed", result.message
    assert tl.n_tasks == 20
    # exactly one terminal state per task, all done
    assert np.all(tl.state == TaskState.DONE)
    assert np.all(tl.end_ns >= tl.start_ns) and np.all(tl.start_ns >= tl.submitted_ns)
    # lanes carry the real PIDs: each task's own os.getpid() equals its lane's PID
    for task in range(20):
        lane = tl.lanes[tl.lane[task]]
        assert tl.texts[task].message == str(lane.pid), (task, tl.texts[task], lane)
    assert 1 <= len(worker_pids(result)) <= 2
    for lane in tl.lanes:
        if lane.kind == "process":
            assert lane.created_ns <= lane.ready_ns
            assert lane.exit_code == 0, lane
    assert not wait_gone(worker_pids(result))


def test_apply_is_one_at_a_time_and_apply_async_overlaps(tmp_path, monkeypatch) -> None:
    # apply blocks until its task returns: one task at a time, whatever the load.
    sleep = {"kind": "sleep", "count": 6, "duration_ms": 100}
    one = run_config({"workers": 3, "api": "apply", "workload": sleep}).timeline
    assert max_overlap(one.start_ns, one.end_ns) == 1
    # apply_async submits without waiting: tasks that wait for each other in threes (they give up
    # after a while, see engine_helpers) overlap three deep by construction, not by timing. Were
    # apply_async to run them one at a time, each would give up alone and the overlap be 1.
    meet = rendezvous_workload(tmp_path, monkeypatch, parties=3, n=6)
    many = run_config({"workers": 3, "api": "apply_async", "workload": meet})
    assert many.outcome == "completed", many.message
    assert max_overlap(many.timeline.start_ns, many.timeline.end_ns) == 3


def test_apply_async_callbacks_show_on_a_parent_lane() -> None:
    sleep = {"kind": "sleep", "count": 5, "duration_ms": 20}
    result = run_config({"workers": 2, "api": "apply_async", "workload": sleep})
    tl = result.timeline
    parent = [lane for lane in tl.lanes if lane.kind == "parent"]
    assert len(parent) == 1
    spans = tl.spans.data
    assert np.count_nonzero(spans["lane"] == parent[0].index) == 5
    assert {tl.span_label(i) for i in spans["label"]} == {"callback"}


def test_chunks_run_back_to_back_on_one_worker() -> None:
    result = run_config({"workers": 2, "api": "map", "chunksize": 5,
                         "workload": {"kind": "sleep", "count": 20, "duration_ms": 10}})
    tl = result.timeline
    for chunk in np.unique(tl.chunk):
        members = np.flatnonzero(tl.chunk == chunk)
        assert len(members) == 5
        assert len(set(tl.lane[members].tolist())) == 1  # one worker ran the whole chunk
        order = members[np.argsort(tl.start_ns[members])]
        assert np.all(tl.start_ns[order][1:] >= tl.end_ns[order][:-1])  # back to back


def test_maxtasksperchild_gives_replaced_workers_new_lanes() -> None:
    result = run_config({"workers": 2, "api": "map", "chunksize": 1, "maxtasksperchild": 2,
                         "workload": {"kind": "sleep", "count": 8, "duration_ms": 10}})
    tl = result.timeline
    assert result.outcome == "completed"
    assert len(worker_pids(result)) >= 4  # 8 chunks / 2 per worker
    assert len(tl.lanes) == len({(lane.pid, lane.tid) for lane in tl.lanes})


@pytest.mark.parametrize("api", ["imap", "imap_unordered"])
def test_imap_with_chunks_runs_and_groups_chunks(api: str) -> None:
    result = run_config({"workers": 2, "api": api, "chunksize": 3,
                         "workload": {"kind": "sleep", "count": 12, "duration_ms": 5}})
    tl = result.timeline
    assert result.outcome == "completed", result.message
    for chunk in np.unique(tl.chunk):
        assert len(set(tl.lane[tl.chunk == chunk].tolist())) == 1


def test_a_worker_asked_for_after_cancel_ends_the_maintenance_thread_quietly(monkeypatch, capsys) -> None:
    """The Pool's maintenance thread replaces exited workers; after cancel() the observed Pool refuses
    new ones, and that refusal must end the thread without a traceback on stderr (seen in CI when
    workers exited at import and the run was failing). A real Pool: a worker is killed after cancel()."""
    import os
    import queue
    import signal
    import threading
    import time

    from procviz.engine.backends.pool_creation import ObservedPool, _ExitReporter
    from procviz.engine.worker.process import forget_observer, register_observer

    seen: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", seen.append)
    cancelled = threading.Event()
    key = register_observer(_ExitReporter(queue.SimpleQueue()))
    pool = ObservedPool(1, exit_sink_key=key, start_method="fork", cancelled=cancelled, created={})
    # An idle worker waits for tasks holding the task queue's reader lock. It is killed once it holds
    # it, so the lock is certainly left held, and released on its behalf before terminate() (killed
    # still booting, it held none: releasing it then, as the test did when terminate() was not done
    # 0.5 s in, released a free lock).
    rlock = pool._inqueue._rlock._semlock  # type: ignore[attr-defined]
    held = False
    try:
        pid = pool.worker_processes()[0].pid
        assert isinstance(pid, int) and pid > 0, pid  # (never kill(0): that is the whole process group)
        deadline = time.monotonic() + 60
        while rlock._get_value() != 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        held = rlock._get_value() == 0
        assert held, "the worker never waited for a task"
        cancelled.set()
        os.kill(pid, signal.SIGKILL)
        pool._worker_handler.join(60)  # type: ignore[attr-defined]
        assert not pool._worker_handler.is_alive(), "the maintenance thread ended"  # type: ignore[attr-defined]
    finally:
        # terminate() first takes the task queue's reader lock, which the killed idle worker held:
        # released on its behalf, as PoolBackend.shutdown does.
        if held:
            rlock.release()
        ender = threading.Thread(target=pool.terminate, daemon=True)
        ender.start()
        ender.join(30)
        forget_observer(key)
    # The maintenance thread's end left the Pool's task thread waiting for ever, and terminate()
    # with it (it joins that thread): the engine's Stop waited 2.5 s, then left the threads behind.
    assert not ender.is_alive(), "terminate() did not return"
    assert seen, "the thread ended by an exception"
    for args in seen:
        threading.__excepthook__(args)  # Python's own hook: what a user's terminal would show
    assert capsys.readouterr().err == "", "no traceback"
