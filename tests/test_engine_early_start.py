"""The engine asks for its workers before it builds the rest of the run (issue 10's fixed cost).

What only a live run needs (tracker, sampler, metrics, reaper) is imported and built while the
spawned workers boot. These tests pin what that must not change: the workers really are asked for
first, a run still reports every task, and a failure in the window between the two ends the run as
an error with no worker left behind.
"""

from __future__ import annotations

import psutil
from engine_helpers import run_config, wait_gone, worker_pids

import procviz.engine.run_loop as run_loop
from procviz.engine.submitter import Submitter


def _spawned_workers() -> set[int]:
    """This process's spawn workers alive now (not multiprocessing's resource tracker)."""
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                out.add(child.pid)
        except psutil.Error:
            pass
    return out


def test_the_workers_are_asked_for_before_the_tracker_is_made(monkeypatch) -> None:
    order: list[str] = []
    start, tracker = Submitter.start, run_loop.new_tracker
    monkeypatch.setattr(Submitter, "start", lambda self: (order.append("submitter"), start(self))[1])
    monkeypatch.setattr(run_loop, "new_tracker", lambda *a: (order.append("tracker"), tracker(*a))[1])
    result = run_config({"workers": 2, "workload": {"kind": "cpu", "count": 6, "duration_ms": 1}})
    assert result.outcome == "completed", result.message
    assert order == ["submitter", "tracker"]
    assert not wait_gone(worker_pids(result))


def test_a_failure_before_the_loop_ends_the_run_and_its_workers(monkeypatch) -> None:
    before = _spawned_workers()

    def broken(*args):
        raise RuntimeError("tracker could not be made")

    monkeypatch.setattr(run_loop, "new_tracker", broken)
    result = run_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 50}})
    assert result.outcome == "error" and "tracker could not be made" in result.message
    assert not wait_gone(_spawned_workers() - before)


def test_a_function_workload_is_still_checked_before_any_worker_starts(monkeypatch) -> None:
    started: list[bool] = []
    start = Submitter.start
    monkeypatch.setattr(Submitter, "start", lambda self: (started.append(True), start(self))[1])
    result = run_config({"workers": 2,
                         "workload": {"kind": "function", "function": "no_such_module_xyz:f", "count": 2}})
    assert result.outcome == "invalid"
    assert not started
