"""``procviz run`` hands a simple Pool run's chunks to the Pool as soon as it exists (issue 10).

A run whose tasks follow from its config alone (a built-in kind, one fixed duration, id order, a
mapping API; or a function workload whose tasks take no arguments) has its chunks submitted by
the head start as soon as its Pool exists (before the parent imports numpy and the engine; for a
function workload, once its module's import check passed), as a user's script calls
``pool.map`` right after ``Pool()``. These tests pin that those
chunks are exactly the engine's plan for every such config, that every other config is left to
the engine, that the engine adopts the submission whole (its time, its results), that a mismatch
is a run error and not a silent wrong run, and that nothing is left behind.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from engine_helpers import wait_gone, worker_pids

from procviz.engine.backends.pool import _is_early_plan
from procviz.engine.backends.pool_submit import CHUNK_APIS, early_plan
from procviz.engine.config import parse_config
from procviz.engine.events import TaskState
from procviz.engine.head_start import HeadStart
from procviz.engine.plan import build_plan
from procviz.engine.runner import Engine

SIMPLE = [
    {"workers": w, "api": api, "chunksize": cs, "order": order,
     "workload": {"kind": kind, "count": n, "duration_ms": ms}}
    for w, api, cs, order, kind, n, ms in itertools.product(
        (1, 3), CHUNK_APIS, (None, 1, 7), ("fifo", "sjf", "ljf"), ("cpu", "sleep", "io", "mixed"),
        (1, 5, 1001), (0.0, 2.5, 3_600_000.0))
] + [
    {"workers": w, "api": api, "chunksize": cs, "workload": {"kind": "function", "count": n,
                                                              "function": "procviz.engine.worker.demo_tasks:noop"}}
    for w, api, cs, n in itertools.product((1, 3), CHUNK_APIS, (None, 1, 7), (1, 5, 1001))
] + [
    {"workers": 2, "workload": {"kind": "function", "args": [[], [], []],
                                "function": "procviz.engine.worker.demo_tasks:noop"}},
]


def _config(data: dict) -> object:
    return parse_config({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize("data", SIMPLE[::7] + SIMPLE[-20:])
def test_the_early_chunks_are_the_engines_plan(data: dict) -> None:
    config = _config(data)
    early = early_plan(config)
    assert early is not None
    plan = build_plan(config)
    assert list(early.chunks()) == list(plan.chunk_items)
    assert early.runner().func is plan.chunk_runner().func and early.runner().args == plan.chunk_runner().args
    assert _is_early_plan(plan, early)


@pytest.mark.parametrize("change", [
    {"order": "random"},
    {"api": "apply"},
    {"api": "apply_async"},
    {"backend": "process_pool_executor", "api": "map"},
    {"workload": {"kind": "cpu", "count": 9, "duration_ms": 3, "distribution": "uniform", "spread_ms": 1}},
    {"workload": {"kind": "cpu", "count": 9, "duration_ms": 3, "distribution": "exponential"}},
    {"workload": {"kind": "function", "args": [[1], [2]], "function": "procviz.engine.worker.demo_tasks:square"}},
    {"order": "random", "workload": {"kind": "function", "count": 9,
                                     "function": "procviz.engine.worker.demo_tasks:noop"}},
])
def test_runs_the_config_does_not_describe_alone_are_left_to_the_engine(change: dict) -> None:
    base = {"workers": 2, "workload": {"kind": "cpu", "count": 9, "duration_ms": 3}}
    assert early_plan(parse_config({**base, **change})) is None


def test_a_plan_that_is_not_the_early_one_is_told_apart() -> None:
    config = _config(SIMPLE[0])
    early = early_plan(config)
    assert early is not None
    for other in ({**SIMPLE[0], "chunksize": 2}, {**SIMPLE[0], "order": "random", "workload": {
            "kind": "cpu", "count": 1001, "duration_ms": 0.0}}, {**SIMPLE[0], "workload": {
            "kind": "cpu", "count": 6, "duration_ms": 0.0}}, {**SIMPLE[0], "workload": {
            "kind": "sleep", "count": 1, "duration_ms": 0.0}}, {**SIMPLE[0], "workload": {
            "kind": "cpu", "count": 1, "duration_ms": 1.0}}):
        assert not _is_early_plan(build_plan(_config(other)), early), other


PROBE = """
import json, sys, threading
import procviz.engine.backends.pool_submit as ps
import procviz.engine.cli as cli

seen = {"submitted_on": [], "api_calls": 0}
submit, call = ps.submit_early, ps.call_chunk_api

def probed_submit(*args):
    seen["submitted_on"].append(threading.current_thread().name)
    return submit(*args)

def probed_call(*args):
    seen["api_calls"] += 1
    return call(*args)

ps.submit_early, ps.call_chunk_api = probed_submit, probed_call
import procviz.engine.backends.pool_creation as pc
pc.submit_early = probed_submit
seen["code"] = cli.main(sys.argv[1:])
print("PROBE " + json.dumps(seen))
"""


@pytest.mark.parametrize("api", ["map", "imap_unordered", "starmap"])
def test_procviz_run_submits_from_the_head_start_once(tmp_path, api: str) -> None:
    # by the thread that creates the Pool, before the engine exists, and never again by the engine
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, "-c", PROBE, "run", "--workers", "2", "--kind", "cpu", "--count", "40",
                           "--duration-ms", "1", "--api", api, "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("PROBE "))
    seen = json.loads(line.removeprefix("PROBE "))
    assert seen == {"submitted_on": ["procviz-pool-create"], "api_calls": 1, "code": 0}
    from procviz.engine.formats import read_timeline

    tl = read_timeline(out)
    assert np.all(tl.state == int(TaskState.DONE))
    submitted, start = tl.submitted_ns, tl.start_ns
    assert np.all(submitted > 0) and np.all(submitted <= start)  # queued from the early hand-over


@pytest.mark.parametrize("api", ["map_async", "imap", "starmap"])
def test_the_engine_adopts_the_early_submission_whole(api: str) -> None:
    config = parse_config({"workers": 2, "api": api, "workload": {"kind": "cpu", "count": 30, "duration_ms": 1}})
    head = HeadStart(config)
    assert head.creation.wait(30)
    early = head.creation.early
    assert early is not None and early.api == api
    engine = Engine()
    engine.start(config, head)
    result = engine.join(60)
    assert result is not None and result.outcome == "completed", result and result.message
    tl = result.timeline
    assert np.all(tl.submitted_ns == early.submitted_ns)  # submitted once, when the head start did
    assert len(tl.state) == 30 and np.all(tl.state == int(TaskState.DONE))
    assert not wait_gone(worker_pids(result))


def test_an_early_submission_that_is_not_the_plan_is_a_run_error_and_leaves_nothing() -> None:
    config = parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 5}})
    other = parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 6, "duration_ms": 5}})
    head = HeadStart(config)
    assert head.creation.wait(30) and head.creation.early is not None
    pids = {p.pid for p in head.creation.created.values()}
    engine = Engine()
    engine.start(other, head)  # a bug would look like this: the engine's plan is not what was handed over
    result = engine.join(60)
    assert result is not None and result.outcome == "error", result and result.outcome
    assert "not the run's plan" in result.message
    assert not wait_gone(pids)


def test_a_head_start_abandoned_with_its_tasks_running_leaves_no_worker() -> None:
    config = parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 30000}})
    head = HeadStart(config)
    assert head.creation.wait(30) and head.creation.early is not None
    pids = {p.pid for p in head.creation.created.values()}
    head.abandon()
    assert not wait_gone(pids)
    assert not os.path.exists(os.path.dirname(head.places.receiver.address))


MARKING_TASKS = """
import os, time


def mark_and_sleep():
    open(f"started.{os.getpid()}", "w").close()  # the test kills this worker once it is inside its task
    time.sleep(1.5)
"""


def test_a_worker_killed_before_the_engine_exists_fails_its_task_with_the_reason(tmp_path, monkeypatch) -> None:
    import signal
    import time

    (tmp_path / "marking_tasks.py").write_text(MARKING_TASKS)
    monkeypatch.chdir(tmp_path)
    config = parse_config({"workers": 2, "chunksize": 1,
                           "workload": {"kind": "function", "count": 2, "function": "marking_tasks:mark_and_sleep"}})
    head = HeadStart(config)
    assert head.after_imports() is None  # the module imports: the Pool is begun, its chunks handed over
    assert head.creation is not None and head.creation.wait(30) and head.creation.early is not None
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("started.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = int(sorted(tmp_path.glob("started.*"))[0].suffix[1:])
    os.kill(victim, signal.SIGKILL)  # inside its early-submitted task, which no engine has heard of yet
    time.sleep(0.2)
    engine = Engine()
    engine.start(config, head)
    result = engine.join(60)
    assert result is not None and result.outcome == "failed", result and result.message
    tl = result.timeline
    assert sorted(tl.state.tolist()) == [int(TaskState.DONE), int(TaskState.FAILED)]
    reasons = [x.message for x in tl.texts.values() if x.kind == "error"]
    assert any("SIGKILL" in r and str(victim) in r for r in reasons), reasons
    assert not wait_gone(worker_pids(result) | {victim})


def test_a_pool_that_cannot_be_begun_early_is_left_to_the_backend(tmp_path, monkeypatch) -> None:
    def no_pool(self: HeadStart) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(HeadStart, "_begin_pool", no_pool)
    config = parse_config({"workers": 2, "workload": {"kind": "function", "count": 4,
                                                      "function": "procviz.engine.worker.demo_tasks:noop"}})
    head = HeadStart(config)
    assert head.after_imports() is None and head.creation is None  # said in the log, not raised
    engine = Engine()
    engine.start(config, head)
    result = engine.join(60)
    assert result is not None and result.outcome == "completed", result and result.message
    assert not wait_gone(worker_pids(result))


def test_an_engine_failure_before_it_adopts_the_early_pool_ends_that_pool(monkeypatch) -> None:
    import procviz.engine.runner as runner

    config = parse_config({"workers": 2, "workload": {"kind": "function", "count": 4,
                                                      "function": "procviz.engine.worker.demo_tasks:noop"}})
    head = HeadStart(config)
    assert head.after_imports() is None and head.creation is not None and head.creation.wait(30)
    pids = set(head.creation.started_pids())
    assert len(pids) == 2

    def broken(self: object, t0: int, plan: object) -> object:
        raise RuntimeError("the run could not be described")

    monkeypatch.setattr(runner._Run, "_describe", broken)
    engine = Engine()
    engine.start(config, head)
    result = engine.join(60)
    assert result is not None and result.outcome == "error" and "could not be described" in result.message
    assert not wait_gone(pids)
    assert not os.path.exists(os.path.dirname(head.places.receiver.address))


def test_a_function_pool_boots_with_its_check_and_ends_with_a_failed_one(tmp_path, monkeypatch) -> None:
    """The Pool of a function workload is begun with the check that its module imports, before the
    verdict, and given its tasks; a module that fails the check fails in its workers too, before
    any task, and the Pool's workers are ended with the head start."""
    (tmp_path / "broken_at_import.py").write_text("raise RuntimeError('no import for you')\ndef f():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config = parse_config({"workers": 2, "workload": {"kind": "function", "count": 4,
                                                      "function": "broken_at_import:f"}})
    head = HeadStart(config)
    try:
        assert head.creation is not None  # begun before the verdict
        problem = head.after_imports()
        assert problem is not None and "no import for you" in str(problem)
        head.creation.wait(30)
        pids = set(head.creation.started_pids())
    finally:
        head.end()
    assert pids and not wait_gone(pids)


def test_a_head_start_whose_module_hangs_at_import_ignoring_sigterm_ends(tmp_path, monkeypatch) -> None:
    """The Pool's workers import the workload's module during the check: a module that ignores
    SIGTERM and hangs there must not keep the head start's end waiting on them (Pool.terminate
    joins without a limit): they are killed."""
    import threading
    import time

    (tmp_path / "hangs_at_import.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\ndef f():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    config = parse_config({"workers": 2, "workload": {"kind": "function", "count": 4,
                                                      "function": "hangs_at_import:f"}})
    head = HeadStart(config)
    assert head.creation is not None
    head.creation.wait_started()  # (its creation waits for the verdict to hand its tasks over)
    pids = set(head.creation.started_pids())
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    assert head.after_imports(stop) is not None  # stopped while the check waited
    t0 = time.monotonic()
    head.end()
    assert time.monotonic() - t0 < 15
    assert len(pids) == 2 and not wait_gone(pids)
