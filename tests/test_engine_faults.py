"""Failure is data: exceptions, sys.exit, killed workers, timeouts and Stop end cleanly."""

from __future__ import annotations

import time

import numpy as np
import pytest
from engine_helpers import (
    RUN_BOUND_S,
    START_METHODS,
    STOP_BOUND_S,
    function_workload,
    run_config,
    wait_gone,
    worker_pids,
)

from procviz.engine.config import parse_config
from procviz.engine.events import TaskState
from procviz.engine.runner import Engine


def _states(result) -> dict[str, int]:
    return {s.name: n for s, n in result.timeline.state_counts().items() if n}


@pytest.mark.parametrize("start_method", START_METHODS)
def test_task_exception_fails_only_that_task(start_method: str) -> None:
    result = run_config({"workers": 2, "start_method": start_method, "workload": function_workload("fail_if", 20)})
    tl = result.timeline
    assert result.outcome == "failed"
    assert tl.state[3] == TaskState.FAILED
    assert tl.texts[3].type_name == "ValueError" and "x=3" in tl.texts[3].message
    assert "Traceback" in tl.texts[3].traceback
    assert _states(result) == {"DONE": 19, "FAILED": 1}


def test_sys_exit_in_a_task_is_a_failed_task_not_a_dead_worker() -> None:
    result = run_config({"workers": 2, "workload": function_workload("exit_if", 20)})
    tl = result.timeline
    assert tl.state[3] == TaskState.FAILED and tl.texts[3].type_name == "SystemExit"
    assert _states(result) == {"DONE": 19, "FAILED": 1}


def test_exception_that_cannot_be_unpickled_does_not_hang() -> None:
    result = run_config({"workers": 2, "workload": function_workload("raise_unpicklable", 4)}, timeout_s=RUN_BOUND_S)
    assert _states(result) == {"FAILED": 4}
    assert result.timeline.texts[0].type_name == "UnpicklableError"


@pytest.mark.parametrize("start_method", START_METHODS)
def test_sigkilled_worker_fails_its_task_and_chunk_and_the_run_ends(start_method: str) -> None:
    result = run_config({"workers": 2, "start_method": start_method, "chunksize": 2,
                         "workload": function_workload("kill_self_if", 20)}, timeout_s=RUN_BOUND_S)
    tl = result.timeline
    assert tl.state[3] == TaskState.FAILED
    assert "SIGKILL" in tl.texts[3].message and tl.texts[3].type_name == "WorkerDied"
    # task 3 shares chunk 1 with task 2, which ran before it; nothing else of the chunk is left
    assert tl.chunk[2] == tl.chunk[3]
    others = np.delete(np.arange(20), 3)
    assert np.all(tl.state[others] == TaskState.DONE)
    dead = [lane for lane in tl.lanes if lane.exit_code == -9]
    assert len(dead) == 1 and "SIGKILL" in dead[0].exit_reason
    assert not wait_gone(worker_pids(result))


def test_os_exit_loses_the_rest_of_the_chunk_with_a_reason() -> None:
    result = run_config({"workers": 2, "chunksize": 4, "workload": function_workload("hard_exit_if", 12)},
                        timeout_s=RUN_BOUND_S)
    tl = result.timeline
    assert tl.state[3] == TaskState.FAILED and "code 7" in tl.texts[3].message
    assert all(tl.state[i] == TaskState.DONE for i in range(12) if tl.chunk[i] != tl.chunk[3])
    assert result.outcome == "failed"
    # Its START went down with the worker (a chunk's short tasks send in batches): the task is
    # still a bar on that worker's lane, from where the worker's slot says it began to the death.
    dead = [lane.index for lane in tl.lanes if lane.exit_code == 7]
    assert len(dead) == 1 and tl.lane[3] == dead[0] == tl.lane[2]  # task 2: its chunk's task before it
    assert tl.end_ns[2] <= tl.start_ns[3] < tl.end_ns[3] <= tl.lanes[dead[0]].exit_ns


def test_timeout_ends_the_task_and_terminates_its_worker() -> None:
    result = run_config({"workers": 2, "task_timeout_s": 0.3, "chunksize": 1,
                         "workload": function_workload("hang", 2)}, timeout_s=RUN_BOUND_S)
    tl = result.timeline
    assert np.all(tl.state == TaskState.TIMEOUT)
    assert "task_timeout_s=0.3" in tl.texts[0].message
    assert not wait_gone(worker_pids(result))


@pytest.mark.parametrize("start_method", START_METHODS)
def test_stop_during_long_tasks_returns_quickly_and_leaves_no_process(start_method: str) -> None:
    engine = Engine()
    engine.start(parse_config({"workers": 2, "start_method": start_method,
                               "workload": {"kind": "sleep", "count": 6, "duration_ms": 30_000}}))
    deadline = time.monotonic() + 60
    pids: set[int] = set()
    started = 0
    # Stop once the engine has heard both workers' task STARTs (not 0.3 s after their hellos: a
    # loaded machine could take longer to begin the tasks, and "two running ones" is asserted).
    while time.monotonic() < deadline and (len(pids) < 2 or started < 2):
        while not engine.events.empty():
            batch = engine.events.get()
            pids.update(lane.pid for lane in batch.lanes)
            started += len(batch.started)
        time.sleep(0.05)
    engine.stop(STOP_BOUND_S)
    result = engine.join(0)
    assert result is not None and result.outcome == "stopped"
    tl = result.timeline
    assert np.all(tl.state == TaskState.CANCELLED)
    assert np.count_nonzero(tl.start_ns >= 0) == 2  # the two running ones keep their start
    assert not wait_gone(pids | worker_pids(result))


def test_timeout_with_chunks_ends_the_run_and_loses_the_rest_of_the_chunk() -> None:
    workload = function_workload("hang", 8)
    workload["args"] = [[i, 30.0 if i == 1 else 0.01] for i in range(8)]
    result = run_config({"workers": 2, "task_timeout_s": 0.5, "chunksize": 4, "workload": workload},
                        timeout_s=RUN_BOUND_S)
    tl = result.timeline
    assert tl.state[1] == TaskState.TIMEOUT
    assert all(tl.state[i] == TaskState.FAILED and tl.texts[i].type_name == "LostWithWorker" for i in (2, 3))
    assert np.all(tl.state[4:] == TaskState.DONE) and tl.state[0] == TaskState.DONE


def test_apply_goes_on_after_a_killed_worker() -> None:
    result = run_config({"workers": 2, "api": "apply", "workload": function_workload("kill_self_if", 8)},
                        timeout_s=RUN_BOUND_S)
    tl = result.timeline
    assert tl.state[3] == TaskState.FAILED
    assert np.all(np.delete(tl.state, 3) == TaskState.DONE)


def test_many_large_error_texts_all_arrive() -> None:
    result = run_config({"workers": 1, "chunksize": 100, "workload": function_workload("fail_loudly", 200)},
                        timeout_s=RUN_BOUND_S)
    tl = result.timeline
    assert np.all(tl.state == TaskState.FAILED)
    assert all(tl.texts[i].type_name == "RuntimeError" for i in range(200))
