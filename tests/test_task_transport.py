"""Tasks travel as plain tuples from a columnar plan; timings nest; the CLI keeps one Timeline."""

from __future__ import annotations

import gc
import pickle

import numpy as np
from engine_helpers import run_config

from procviz.engine.columns import ArrayColumn
from procviz.engine.config import parse_config
from procviz.engine.events import TaskState
from procviz.engine.plan import build_plan
from procviz.engine.runner import Engine
from procviz.engine.tally import RunTally, drain_until


def test_a_million_task_plan_is_columns_not_objects():
    config = parse_config({"workers": 2, "chunksize": 1000, "workload": {"kind": "cpu", "count": 1_000_000}})
    gc.collect()
    before = len(gc.get_objects())
    plan = build_plan(config)
    assert len(gc.get_objects()) - before < 1000  # no object per task
    items = plan.items
    assert len(items) == 1_000_000
    first = next(iter(items))
    assert first == (int(plan.order[0]), (float(plan.cost_ms[plan.order[0]]),))
    assert items[-1][0] == int(plan.order[-1])


def test_items_are_plain_tuples_and_the_function_travels_once_per_chunk():
    config = parse_config({"workers": 2, "workload": {"kind": "function", "function": "engine.demo_tasks:square",
                                                      "args": [[1], [2], [3]]}})
    plan = build_plan(config)
    assert list(plan.items) == [(0, (1,)), (1, (2,)), (2, (3,))]
    assert all(type(item) is tuple for item in plan.items)
    run = pickle.loads(pickle.dumps(plan.runner()))
    assert run.args == ("engine.demo_tasks:square", True)
    assert plan.arg_texts() == ("1", "2", "3")


def test_on_cpu_never_exceeds_wall_for_tiny_and_real_tasks():
    for workload in ({"kind": "cpu", "count": 3000, "duration_ms": 0.0},
                     {"kind": "cpu", "count": 20, "duration_ms": 5.0}):
        tl = run_config({"workers": 2, "workload": workload}).timeline
        assert np.all(tl.state == TaskState.DONE)
        wall = tl.wall_ns()
        assert np.all(tl.cpu_ns <= wall), (tl.cpu_ns - wall).max()
        measured = tl.ready_ns >= 0
        assert np.all(tl.cpu_ns[measured] + tl.ready_ns[measured] <= wall[measured])


def test_a_long_task_shows_running_before_it_ends_and_the_tally_agrees():
    engine = Engine()
    engine.start(parse_config({"workers": 1, "workload": {"kind": "sleep", "count": 2, "duration_ms": 800}}))
    tally = RunTally()
    seen_running = False
    while engine.running and not tally.finished:
        drain_until(engine.events, tally, 0.2)
        counts = tally.state_counts()
        seen_running |= counts[TaskState.RUNNING] == 1 and tally.finished_count() == 0
    result = engine.join(60)
    drain_until(engine.events, tally, 0.0)
    assert result is not None and result.outcome == "completed"
    assert seen_running  # the START row went out while the task slept, not with its END
    assert tally.finished_count() == 2 and tally.state_counts()[TaskState.DONE] == 2
    assert tally.state_counts()[TaskState.RUNNING] == 0


def test_array_column_reads_as_a_tuple():
    col = ArrayColumn(np.array([1.5, 2.5, np.nan]))
    assert len(col) == 3 and col and col[0] == 1.5 and list(col)[:2] == [1.5, 2.5]
    assert col == (1.5, 2.5, float("nan")) and col != (1.5, 2.5)
    assert np.asarray(col).dtype == np.float64 and not ArrayColumn(np.zeros(0))
