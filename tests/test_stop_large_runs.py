"""Stop of a run with many unfinished tasks: it stops submitting at once and ends them in bulk.

A Stop pressed while ``ThreadPoolExecutor.map`` still makes its futures used to wait until map had
made every one (the executor's map builds them all before it returns: seconds for a million
tasks), and then ended every unfinished task with a text object of its own (~2 s and ~200 bytes a
task at a million). Now map's items end at Stop, and the engine gives the tasks it ends together
one shared text, which every file format still writes per task.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from procviz.engine.backends.threads import ThreadPoolExecutorBackend
from procviz.engine.config import parse_config
from procviz.engine.events import RunOutcome, TaskState
from procviz.engine.formats import read_timeline, write_timeline
from procviz.engine.runner import Engine

TASKS = 200_000


class _CountingExecutor(cf.ThreadPoolExecutor):
    """A ThreadPoolExecutor that counts the futures it was asked to make."""

    made = 0
    last: cf.ThreadPoolExecutor | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        type(self).last = self

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future:
        type(self).made += 1
        return super().submit(fn, *args, **kwargs)


def _counting(original: Any) -> Any:
    def make_executor(self: ThreadPoolExecutorBackend) -> cf.Executor:
        made = original(self)
        counting = _CountingExecutor(self.config.workers, thread_name_prefix="ThreadPoolExecutor",
                                     initializer=made._initializer)  # the backend's own initializer
        made.shutdown(wait=False)
        return counting
    return make_executor


@pytest.fixture(scope="module")
def stopped_map_run() -> Any:
    """A 200k-task ThreadPoolExecutor.map run, stopped as soon as its first futures exist."""
    mp = pytest.MonkeyPatch()
    mp.setattr(ThreadPoolExecutorBackend, "make_executor", _counting(ThreadPoolExecutorBackend.make_executor))
    _CountingExecutor.made = 0
    try:
        engine = Engine()
        engine.start(parse_config({"backend": "thread_pool_executor", "workers": 2, "api": "map",
                                   "workload": {"kind": "sleep", "count": TASKS, "duration_ms": 1}}))
        deadline = time.monotonic() + 60
        while _CountingExecutor.made == 0 and time.monotonic() < deadline:
            time.sleep(0.001)  # (a poll: map has begun making futures once the count moves)
        engine.stop(10)
        result = engine.join(60)
        made = _CountingExecutor.made
        threads = list(getattr(_CountingExecutor.last, "_threads", ()))  # the run's own threads
    finally:
        mp.undo()
    assert result is not None, "the stopped run did not end"
    return result, made, threads


def test_stop_ends_executor_map_making_its_futures(stopped_map_run: Any) -> None:
    result, made, _ = stopped_map_run
    assert result.outcome == RunOutcome.STOPPED
    # The items end at Stop: map made a fraction of them (the old map made all 200 000 first).
    assert 0 < made < TASKS // 2, made


def test_tasks_ended_together_share_one_text(stopped_map_run: Any) -> None:
    result, _, _ = stopped_map_run
    tl = result.timeline
    cancelled = [int(i) for i in range(tl.n_tasks) if tl.state[i] == TaskState.CANCELLED]
    assert len(cancelled) > TASKS // 2
    texts = {id(tl.texts[i]) for i in cancelled}
    assert len(texts) == 1, f"{len(texts)} text objects for {len(cancelled)} cancelled tasks"
    text = tl.texts[cancelled[0]]
    assert (text.type_name, text.message, text.task_id) == ("Cancelled", "cancelled by Stop", -1)


@pytest.mark.parametrize("fmt", ["json", "csv", "chrome"])
def test_a_shared_text_is_written_for_every_task(stopped_map_run: Any, tmp_path: Path, fmt: str) -> None:
    result, _, _ = stopped_map_run
    tl = result.timeline
    path = tmp_path / f"stopped.{'csv' if fmt == 'csv' else 'json'}"
    write_timeline(tl, str(path), fmt)
    back = read_timeline(str(path))
    assert back.n_tasks == tl.n_tasks
    assert sorted(back.texts) == sorted(tl.texts)
    for task_id in list(tl.texts)[:: max(len(tl.texts) // 500, 1)]:  # a sample of 500
        mine, theirs = tl.texts[task_id], back.texts[task_id]
        assert (theirs.kind, theirs.type_name, theirs.message) == (mine.kind, mine.type_name, mine.message)
    # Read back, a text the stopped tasks share is one object again, as the engine made it.
    cancelled = [i for i in back.texts if back.texts[i].type_name == "Cancelled"]
    assert len({id(back.texts[i]) for i in cancelled}) == 1 and back.texts[cancelled[0]].task_id == -1


def test_no_thread_of_the_stopped_run_is_left(stopped_map_run: Any) -> None:
    _, _, threads = stopped_map_run
    assert threads, "the run's executor started no thread"
    deadline = time.monotonic() + 10
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.05)  # (their last sleeps of 1 ms end)
    assert not [t.name for t in threads if t.is_alive()]


@pytest.mark.parametrize("moment", ["before the submitter exists", "before the submitter starts"])
def test_a_stop_pressed_as_the_run_sets_up_submits_nothing(moment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine.stop tells a submitter that exists at once, and a submitter made after a Stop knows
    of it: no task is handed over (they used to be, one apply_async after another, until the
    engine thread's next pass, which a tree scan under the busy submitter's GIL kept for seconds)."""
    import multiprocessing.pool

    from procviz.engine.submitter import Submitter

    calls = [0]
    apply_async = multiprocessing.pool.Pool.apply_async

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return apply_async(self, *args, **kwargs)

    reached, go = threading.Event(), threading.Event()
    name = "__init__" if moment == "before the submitter exists" else "start"
    original = getattr(Submitter, name)

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        reached.set()
        go.wait(30)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(multiprocessing.pool.Pool, "apply_async", counted)
    monkeypatch.setattr(Submitter, name, held)
    engine = Engine()
    engine.start(parse_config({"backend": "pool", "workers": 2, "api": "apply_async", "start_method": "fork",
                               "workload": {"kind": "sleep", "count": 20_000, "duration_ms": 0}}))
    assert reached.wait(60), "the run never reached its submitter"
    engine.stop(0.0)  # the Stop, while the submitter is held
    go.set()
    result = engine.join(60)
    assert result is not None and result.outcome == RunOutcome.STOPPED
    assert calls[0] == 0, f"{calls[0]} tasks handed to the Pool after the Stop"
    assert (result.timeline.state == TaskState.CANCELLED).all()
