"""A plan's chunks (what the mapping APIs hand to the Pool) are the Pool's own chunks, task for task."""

from __future__ import annotations

import pickle
from itertools import repeat
from typing import Any

import numpy as np
import pytest

from procviz.engine.config import parse_config
from procviz.engine.plan import TaskPlan, build_plan


def _plan(workload: dict[str, Any], chunksize: int = 4, order: str = "fifo") -> TaskPlan:
    return build_plan(parse_config({"backend": "pool", "workers": 2, "chunksize": chunksize, "order": order,
                                    "workload": workload}))


def _tasks(plan: TaskPlan) -> list[tuple[int, tuple[Any, ...], int]]:
    """(task id, args, chunk number) of every task, as the chunks carry them."""
    out = []
    for k, (ids, shared, each) in enumerate(plan.chunk_items):
        args = repeat(shared) if each is None else each
        out.extend((t, a, k) for t, a in zip(ids, args, strict=False))
    return out


WORKLOADS = [
    {"kind": "cpu", "count": 10, "duration_ms": 0.0},
    {"kind": "sleep", "count": 11, "duration_ms": 5.0, "distribution": "uniform", "spread_ms": 4.0, "seed": 3},
    {"kind": "function", "count": 9, "function": "procviz.engine.worker.demo_tasks:noop"},
    {"kind": "function", "function": "procviz.engine.worker.demo_tasks:square", "args": [[i] for i in range(7)]},
]


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("order", ["fifo", "random"])
def test_chunks_carry_each_task_once_in_order_with_its_arguments_and_chunk(workload: dict, order: str) -> None:
    plan = _plan(workload, order=order)
    tasks = _tasks(plan)
    assert [t for t, _, _ in tasks] == plan.order.tolist(), "submission order, each task once"
    assert [a for _, a, _ in tasks] == [plan.item(t)[1] for t, _, _ in tasks], "each task's own arguments"
    assert [k for _, _, k in tasks] == plan.chunks[plan.order].tolist(), "the chunk the timeline expects"
    assert len(plan.chunk_items) == len({k for _, _, k in tasks}) == -(-plan.n_tasks // plan.chunksize)
    assert plan.chunk_items[-1] == list(plan.chunk_items)[-1]


def test_a_no_argument_workload_builds_and_sends_nothing_per_task() -> None:
    plan = _plan({"kind": "function", "count": 100_000, "function": "procviz.engine.worker.demo_tasks:noop"},
                 chunksize=1000)
    assert plan.args is None and plan.no_args
    assert plan.cost_ms.base is not None and plan.cost_ms.strides == (0,), "no planned cost per task"
    ids, shared, each = plan.chunk_items[5]
    assert ids == range(5000, 6000) and shared == () and each is None
    assert len(pickle.dumps(plan.chunk_items[5])) < 100


def test_a_config_without_args_round_trips_as_a_count() -> None:
    config = parse_config({"workload": {"kind": "function", "count": 5, "function": "m:f"}})
    assert config.workload.args == () and config.workload.count == 5
    data = config.to_json()
    assert data["workload"]["args"] is None
    assert parse_config(data) == config


def test_chunk_runner_runs_every_task_of_a_chunk_outside_a_worker() -> None:
    plan = _plan({"kind": "function", "function": "procviz.engine.worker.demo_tasks:square",
                  "args": [[i] for i in range(6)]})
    assert all(plan.chunk_runner()(chunk) is None for chunk in plan.chunk_items)  # no recorder: plain calls
    assert np.array_equal(plan.chunks, np.arange(6) // 4)
