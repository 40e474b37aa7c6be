"""Turning a RunConfig into a plan: task ids in submission order, their chunks and planned costs.

A plan is columns (numpy arrays), never one Python object per task: at a million tasks, objects
per task cost seconds to build and hundreds of bytes each to keep. The tasks handed to a backend,
``(task id, args)`` tuples (:data:`procviz.engine.worker.instrument.TaskItem`), are made lazily,
a block at a time, as the backend consumes them; ``Pool.map`` pickles and frees them as it goes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np

from procviz.engine.config import RunConfig, plan_durations_ms, submission_order
from procviz.engine.specs import BACKEND_SPECS
from procviz.engine.worker.instrument import TaskItem, run_task
from procviz.engine.worker.workloads import BUILTIN_FUNCTIONS

MAX_ARG_TEXT = 120
_BLOCK = 4096  # items made per step when iterating


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """Every task of a run, as columns, ready to submit.

    Task ids are positions in the workload (task i is the i-th generated task); ``order`` lists
    them in the order they are submitted (fifo, shortest first, ...); ``chunks[i]`` is the Pool
    chunk that carries task i (tasks of one chunk run back to back on one worker). Every task calls
    ``function``; its arguments are ``args[i]`` for function workloads, ``(cost_ms[i],)`` otherwise.
    """

    order: np.ndarray
    chunks: np.ndarray
    chunksize: int
    cost_ms: np.ndarray
    function: str
    report: bool  # send a short repr of each result (function workloads)
    args: Sequence[tuple[Any, ...]] | None = None  # per task id, function workloads only

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.order)

    @property
    def items(self) -> PlanItems:
        """The tasks in submission order, as ``(task id, args)`` tuples made on demand."""
        return PlanItems(self)

    def runner(self) -> partial[None]:
        """The function a backend maps over :attr:`items`: the measured wrapper with this plan's
        function bound (it travels once per chunk, the items once each)."""
        return partial(run_task, self.function, self.report)

    def item(self, task_id: int) -> TaskItem:
        """Task ``task_id`` as it travels."""
        if self.args is not None:
            return task_id, self.args[task_id]
        return task_id, (float(self.cost_ms[task_id]),)

    def arg_texts(self) -> tuple[str, ...]:
        """Short texts of each task's arguments (function workloads with arguments; else empty)."""
        if self.args is None or not any(self.args):
            return ()
        return tuple(_arg_text(a) for a in self.args)


class PlanItems(Sequence[TaskItem]):
    """A plan's tasks in submission order, as a sequence made lazily (has a length, as
    ``Pool.map`` needs to not copy it into a list)."""

    def __init__(self, plan: TaskPlan) -> None:
        self._plan = plan

    def __len__(self) -> int:
        return self._plan.n_tasks

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self._plan.item(int(t)) for t in self._plan.order[k].tolist()]
        return self._plan.item(int(self._plan.order[k]))

    def __iter__(self) -> Iterator[TaskItem]:
        plan, order = self._plan, self._plan.order
        cost = plan.cost_ms
        # Every task of a fixed-duration workload shares one argument tuple: the pickler then
        # writes it once per chunk and the workers unpickle one object, not one per task.
        shared = (float(cost[0]),) if plan.args is None and len(cost) and np.all(cost == cost[0]) else None
        for start in range(0, len(order), _BLOCK):
            ids = order[start : start + _BLOCK]
            if plan.args is not None:
                args = plan.args
                yield from ((t, args[t]) for t in ids.tolist())
            elif shared is not None:
                yield from zip(ids.tolist(), repeat(shared))
            else:
                yield from zip(ids.tolist(), [(c,) for c in cost[ids].tolist()], strict=True)


def pool_chunksize(config: RunConfig, n_tasks: int) -> int:
    """The chunksize the backend's call will use: the configured one, or its API's own default."""
    if config.chunksize is not None:
        return config.chunksize
    return BACKEND_SPECS[config.backend].default_chunksize(config.api, n_tasks, config.workers)


def build_plan(config: RunConfig) -> TaskPlan:
    """Every task of the run, ready to submit (columns only: fast at a million tasks)."""
    w = config.workload
    cost = plan_durations_ms(w)
    order = submission_order(config, cost)
    chunksize = pool_chunksize(config, w.count)
    chunks = np.empty(w.count, dtype=np.int32)
    chunks[order] = np.arange(w.count, dtype=np.int32) // chunksize
    if w.kind == "function":
        return TaskPlan(order, chunks, chunksize, cost, w.function, True, w.args)
    return TaskPlan(order, chunks, chunksize, cost, BUILTIN_FUNCTIONS[w.kind], False)


def _arg_text(args: tuple) -> str:
    text = ", ".join(repr(a) for a in args)
    return text if len(text) <= MAX_ARG_TEXT else text[: MAX_ARG_TEXT - 1] + "…"
