"""Turning a RunConfig into the concrete list of task calls, their order and their chunks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from procviz.engine.config import RunConfig, plan_durations_ms, submission_order
from procviz.engine.events import TaskCall
from procviz.engine.specs import BACKEND_SPECS
from procviz.engine.workloads import BUILTIN_FUNCTIONS

MAX_ARG_TEXT = 120


@dataclass(frozen=True, slots=True)
class TaskPlan:
    """Calls in submission order, with each task's chunk and planned cost.

    Task ids are positions in the workload (task i is the i-th generated task); ``order`` lists
    them in the order they are submitted (fifo, shortest first, ...); ``chunks[i]`` is the Pool
    chunk that carries task i (tasks of one chunk run back to back on one worker).
    """

    calls: tuple[TaskCall, ...]  # in submission order
    order: np.ndarray
    chunks: np.ndarray
    chunksize: int
    cost_ms: np.ndarray
    arg_texts: tuple[str, ...]

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.order)


def pool_chunksize(config: RunConfig, n_tasks: int) -> int:
    """The chunksize the backend's call will use: the configured one, or its API's own default."""
    if config.chunksize is not None:
        return config.chunksize
    return BACKEND_SPECS[config.backend].default_chunksize(config.api, n_tasks, config.workers)


def build_plan(config: RunConfig) -> TaskPlan:
    """Every task of the run, ready to submit."""
    w = config.workload
    cost = plan_durations_ms(w)
    order = submission_order(config, cost)
    chunksize = pool_chunksize(config, w.count)
    chunks = np.empty(w.count, dtype=np.int32)
    chunks[order] = np.arange(w.count, dtype=np.int32) // chunksize
    if w.kind == "function":
        fn, report = w.function, True
        args_of = [tuple(a) for a in w.args]
        arg_texts = tuple(_arg_text(a) for a in args_of)
    else:
        fn, report = BUILTIN_FUNCTIONS[w.kind], False
        args_of = [(float(c),) for c in cost]
        arg_texts = ()
    calls = tuple(TaskCall(int(i), fn, args_of[i], report) for i in order)
    return TaskPlan(calls=calls, order=order, chunks=chunks, chunksize=chunksize, cost_ms=cost, arg_texts=arg_texts)


def _arg_text(args: tuple) -> str:
    text = ", ".join(repr(a) for a in args)
    return text if len(text) <= MAX_ARG_TEXT else text[: MAX_ARG_TEXT - 1] + "…"
