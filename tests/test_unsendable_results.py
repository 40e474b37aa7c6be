"""A result its pool cannot send back fails its task, as in the pool itself.

A ``multiprocessing.Pool`` or ``ProcessPoolExecutor`` worker pickles each task's result to send it
to the parent: a generator or a lock fails there (``MaybeEncodingError`` from a Pool, the pickling
error itself from an executor). procviz's wrapper returns no result to the pool, and showed such
tasks as done (found by a user campaign); it now pickles each result as the pool would. Where a
result is never pickled (a thread pool, a Process per task), the same task stays done.
"""

from __future__ import annotations

import pytest
from engine_helpers import run_config

from procviz.engine.events import TaskState

MODULE = '''
import threading
def gen(x):
    yield x
def lock(x):
    return threading.Lock()
def fine(x):
    return [x, "ok"]
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch) -> str:
    (tmp_path / "procviz_results.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    return "procviz_results"


@pytest.mark.parametrize(("backend", "api", "error"), [
    ("pool", "map", "MaybeEncodingError"),
    ("pool", "apply_async", "MaybeEncodingError"),
    ("process_pool_executor", "submit", "TypeError"),
])
def test_a_result_that_cannot_travel_back_fails_its_task(backend: str, api: str, error: str, user_module: str) -> None:
    for fn in ("gen", "lock"):
        result = run_config({"backend": backend, "api": api, "workers": 2,
                             "workload": {"kind": "function", "function": f"{user_module}:{fn}",
                                          "args": [[i] for i in range(3)]}})
        tl = result.timeline
        assert result.outcome == "failed", (fn, result.message)
        for task in range(3):
            assert TaskState(int(tl.state[task])) == TaskState.FAILED
            text = tl.texts[task]
            assert text.type_name == error and "pickle" in text.message, (fn, text)
            assert tl.end_ns[task] >= tl.start_ns[task] >= 0  # it ran: its bar is measured as any other


@pytest.mark.parametrize(("backend", "api"), [("thread_pool_executor", "submit"), ("process", "map"),
                                              ("pool", "map")])
def test_results_that_need_no_pickling_or_pickle_stay_done(backend: str, api: str, user_module: str) -> None:
    fn = "fine" if backend == "pool" else "gen"  # a thread or a Process per task pickles nothing
    result = run_config({"backend": backend, "api": api, "workers": 2,
                         "workload": {"kind": "function", "function": f"{user_module}:{fn}",
                                      "args": [[i] for i in range(3)]}})
    assert result.outcome == "completed", result.message
    texts = [result.timeline.texts[t] for t in range(3)]
    assert all(t.kind == "result" for t in texts)
