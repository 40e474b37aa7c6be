"""What the engine decides about a task is what happened to it: a task that ends inside its time
limit is done and its worker is not killed; a result the engine gave up on is not waited for.

The engine hears of a task's end a few milliseconds after it (a worker sends its rows in batches):
it used to call a 185 ms task under a 0.2 s limit a timeout once it had ended, terminate the
worker, and so kill the task after it (7 of 8 runs). Each task here writes its own start and end
(time.monotonic_ns, the clock procviz uses) to a file: every task whose own end came inside the
limit must be done, and a task may be a timeout only if it had not ended by then.
"""

from __future__ import annotations

import pytest
from engine_helpers import run_config

from procviz.engine.events import TaskState

LIMIT_S = 0.2
TASK_MS = 185
N = 6
MODULE = '''
import os, time
def work(folder, i, ms):
    t0 = time.monotonic_ns()
    time.sleep(ms / 1000)
    with open(os.path.join(folder, str(i)), "w") as f:
        f.write(f"{t0} {time.monotonic_ns()}")
    return i
'''


@pytest.mark.parametrize("backend", ["pool", "serial", "process_pool_executor"])
def test_a_task_that_ended_in_time_is_done_and_the_next_one_runs(backend: str, tmp_path, monkeypatch) -> None:
    (tmp_path / "procviz_intime.py").write_text(MODULE)
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    monkeypatch.chdir(tmp_path)
    result = run_config({"backend": backend, "workers": 1, "task_timeout_s": LIMIT_S,
                         "workload": {"kind": "function", "function": "procviz_intime:work",
                                      "args": [[str(stamps), i, TASK_MS] for i in range(N)]}})
    tl = result.timeline
    in_time = 0
    for i in range(N):
        own = stamps / str(i)
        state = TaskState(int(tl.state[i]))
        if not own.exists():  # it never ended on its own: a timeout, or a task lost with a killed worker
            continue
        start, end = map(int, own.read_text().split())
        if end - start < LIMIT_S * 1e9:  # ended inside its limit by its own clock (a loaded machine may not)
            in_time += 1
            assert state == TaskState.DONE, (i, state, tl.texts.get(i))
        # A task that ran to its end was neither killed nor lost with its worker.
        assert state in (TaskState.DONE, TaskState.TIMEOUT), (i, state, tl.texts.get(i))
    assert in_time, "no task ended inside its limit: nothing was checked"


def test_a_run_whose_lost_results_never_come_does_not_wait_for_them(monkeypatch) -> None:
    """A map waits on its whole result; once the engine ended a task itself (here: its worker
    died), that result never comes, and the engine does not wait for the submitter to get it
    (it waited 2 s for nothing after every worker death)."""
    from engine_helpers import function_workload

    from procviz.engine.run_loop import LiveRun

    waits: list[float] = []
    await_submitter = LiveRun._await_submitter

    def spy(self: LiveRun, timeout_s: float) -> None:
        waits.append(timeout_s)
        await_submitter(self, timeout_s)

    monkeypatch.setattr(LiveRun, "_await_submitter", spy)
    result = run_config({"workers": 2, "api": "map",
                         "workload": function_workload("hard_exit_if", n=4)})  # task 3 exits
    assert result.outcome == "failed", result.message
    assert TaskState(int(result.timeline.state[3])) == TaskState.FAILED
    assert waits == []
    ok = run_config({"workers": 2, "api": "map", "workload": function_workload("hard_exit_if", n=3)})
    assert ok.outcome == "completed" and waits == [2.0]  # a run whose results all come still waits for them


GIL_MODULE = '''
import time
def work(i, kind):
    if kind == "gil":
        sum(range(2 * 10**8))  # one C call: holds the GIL for seconds (no signal, no flusher)
    else:
        time.sleep(0.001 if kind == "short" else 0.06)
    return i
'''


@pytest.mark.parametrize("backend", ["pool", "serial"])
@pytest.mark.parametrize("first", ["short", "sleep60"])
def test_a_task_that_holds_the_gil_after_one_that_ended_in_time_is_timed_out(
        backend: str, first: str, tmp_path, monkeypatch) -> None:
    """The task after one that ended in time holds the GIL: the worker's flusher can send
    neither the first task's END nor its own START. The engine reads both from the worker's slot
    and ring and times the second out from its own start (it ran on, unseen, to its end before)."""
    (tmp_path / "procviz_gilhog.py").write_text(GIL_MODULE)
    monkeypatch.chdir(tmp_path)
    result = run_config({"backend": backend, "workers": 1, "task_timeout_s": 0.5,
                         "workload": {"kind": "function", "function": "procviz_gilhog:work",
                                      "args": [[0, first], [1, "gil"], [2, "short"]]}})
    tl = result.timeline
    states = [TaskState(int(s)) for s in tl.state[:3]]
    assert states == [TaskState.DONE, TaskState.TIMEOUT, TaskState.DONE], (states, dict(tl.texts))
    assert "task_timeout_s=0.5" in tl.texts[1].message
    assert tl.end_ns[0] <= tl.start_ns[1]  # its start is the worker's own, after the first task's end
    assert tl.end_ns[1] - tl.start_ns[1] >= 0.5e9  # ended by the limit, not before


DEAF = '''
import signal, time
def deaf(x):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)
'''


@pytest.mark.parametrize("backend", ["process", "process_pool_executor"])
def test_a_timed_out_worker_that_ignores_sigterm_is_killed_after_the_grace(backend: str, tmp_path,
                                                                          monkeypatch) -> None:
    """A task over its limit whose worker ignores SIGTERM: the SIGKILL after the grace came only
    from the loop that sent the SIGTERM, which ends with the last task, so the run waited for the
    shutdown's limit (10 s) and the worker ran on till then."""
    import time

    from procviz.engine.reaper import KILL_GRACE_S
    from procviz.engine.run_loop import SHUTDOWN_S

    (tmp_path / "procviz_deaf.py").write_text(DEAF)
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    result = run_config({"backend": backend, "workers": 1, "task_timeout_s": 0.3,
                         "workload": {"kind": "function", "function": "procviz_deaf:deaf", "args": [[1]]}})
    took = time.monotonic() - started
    assert TaskState(int(result.timeline.state[0])) == TaskState.TIMEOUT
    assert took < SHUTDOWN_S - 2, f"the run waited {took:.1f} s for a worker that ignores SIGTERM"
    exits = [info.exit_code for info in result.timeline.lanes if info.exit_code is not None]
    assert -9 in exits, (exits, KILL_GRACE_S)
