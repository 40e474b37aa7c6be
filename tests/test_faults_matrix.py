"""Task-level fault injection: one dispatcher (``procviz_faultmod.task``), one fault per row, on every
backend the fault applies to.

Task 0 carries the fault, the others are innocents. Each run asserts: the faulty task's terminal
state and reason (naming the signal or exit code and the PID when its worker died), every task
terminal, innocents done (on ProcessPoolExecutor a dead worker breaks the whole pool: there the
innocents it took down fail naming the culprit's PID), the run ended within a bound that only a
hang would break, and no process of the run left (the run is tagged through the environment and
``/proc/*/environ`` scanned).

Memory exhaustion is not a row: on a shared 2-core machine it would take the other jobs down
with it.
"""

from __future__ import annotations

import pytest
from engine_helpers import RUN_BOUND_S, run_config
from fault_helpers import MODULE, fault_setup, survivors

from procviz.engine.events import TaskState

ALL = ("pool", "process_pool_executor", "process", "serial", "thread_pool_executor")
PROCESSES = ALL[:4]  # a fault that kills its worker would kill this very process on threads
N_TASKS = 6

# kind: (backends, state of task 0, what its reason says, task_timeout_s)
ROWS: dict[str, tuple[tuple[str, ...], TaskState, tuple[str, ...], float | None]] = {
    "raise": (ALL, TaskState.FAILED, ("ValueError", "fault injected in a task"), None),
    "sys_exit": (ALL, TaskState.FAILED, ("SystemExit", "3"), None),
    "keyboard_interrupt": (ALL, TaskState.FAILED, ("KeyboardInterrupt",), None),
    "unpicklable_exc": (ALL, TaskState.FAILED, ("Unpicklable", "holds a lock"), None),
    "unloadable_exc": (ALL, TaskState.FAILED, ("Unloadable", "1-2"), None),
    # A Pool's and a ProcessPoolExecutor's workers pickle results to send them back: an
    # unpicklable one fails its task there, as in the pool (elsewhere it stays done, below).
    "unpicklable_result": (("pool", "process_pool_executor"), TaskState.FAILED, ("pickle",), None),
    "big_result": (ALL, TaskState.DONE, (), None),
    "big_output": (ALL, TaskState.DONE, (), None),
    "grandchild": (ALL, TaskState.DONE, (), None),
    "os_exit": (PROCESSES, TaskState.FAILED, ("worker pid ", "exited with code 7"), None),
    "segv": (PROCESSES, TaskState.FAILED, ("worker pid ", "killed by SIGSEGV"), None),
    "sigkill": (PROCESSES, TaskState.FAILED, ("worker pid ", "killed by SIGKILL"), None),
    "hang": (PROCESSES, TaskState.TIMEOUT, ("task_timeout_s=1", "worker pid "), 1.0),
}
# Where a row's fault does something else on other backends: (backends, state, reason, timeout).
OTHER_BACKENDS = {
    "unpicklable_result": (("process", "serial", "thread_pool_executor"), TaskState.DONE, (), None),
}
CASES = [(kind, backend) for rows in (ROWS, OTHER_BACKENDS) for kind, row in rows.items() for backend in row[0]]


def expected(kind: str, backend: str) -> tuple[TaskState, tuple[str, ...], float | None]:
    """(state of task 0, what its reason says, task_timeout_s) of ``kind`` on ``backend``."""
    row = ROWS[kind] if backend in ROWS[kind][0] else OTHER_BACKENDS[kind]
    return row[1], row[2], row[3]


@pytest.fixture
def faults(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fault module in place and a fresh run tag (see fault_helpers)."""
    return fault_setup(tmp_path, monkeypatch)


@pytest.mark.parametrize(("kind", "backend"), CASES, ids=[f"{k}-{b}" for k, b in CASES])
def test_a_fault_in_a_task_ends_that_task_with_its_reason(faults: str, kind: str, backend: str) -> None:
    state, says, timeout_s = expected(kind, backend)
    config = {"backend": backend, "workers": 2,
              "workload": {"kind": "function", "function": f"{MODULE}:task",
                           "args": [[kind, i] for i in range(N_TASKS)]}}
    if backend == "pool":
        config["chunksize"] = 1
    if timeout_s:
        config["task_timeout_s"] = timeout_s
    result = run_config(config, timeout_s=RUN_BOUND_S)  # the hang row: ended by task_timeout_s (its reason)
    tl = result.timeline
    assert (tl.state[:N_TASKS] >= TaskState.DONE).all(), "a task was left unfinished"
    assert tl.state[0] == state, (tl.state[:N_TASKS], tl.texts.get(0))
    reason = f"{tl.texts[0].type_name}: {tl.texts[0].message}" if 0 in tl.texts else ""
    for part in says:
        assert part in reason, reason
    if "worker pid " in says:  # the PID named is a worker of this run that died
        pid = int(reason.split("worker pid ")[1].split()[0])
        assert pid in {info.pid for info in tl.lanes if info.exit_code not in (0, None)}
    innocents = range(1, N_TASKS)
    if backend == "process_pool_executor" and kind in ("os_exit", "segv", "sigkill", "hang"):
        for t in innocents:
            assert tl.state[t] == TaskState.DONE or f"pid {pid}" in tl.texts[t].message, tl.texts[t].message
    else:
        assert [int(tl.state[t]) for t in innocents] == [TaskState.DONE] * len(innocents), tl.texts
    if kind == "grandchild":
        assert "swept 1 leftover process" in result.message and "(sleep)" in result.message
    assert survivors(faults) == []
