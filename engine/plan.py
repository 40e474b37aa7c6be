"""Turning a RunConfig into a plan: task ids in submission order, their chunks and planned costs.

A plan is columns (numpy arrays), never one Python object per task: at a million tasks, objects
per task cost seconds to build and hundreds of bytes each to keep. What is handed to a backend is
made lazily as the backend consumes it: whole chunks for the mapping APIs
(:data:`procviz.engine.worker.instrument.ChunkItem`: a range of ids and the arguments they share,
nothing per task for a workload whose tasks share their arguments), ``(task id, args)`` tuples
(:data:`procviz.engine.worker.instrument.TaskItem`) for one call per task.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np

from procviz.engine.chunk_sequence import ChunkSequence
from procviz.engine.config import RunConfig, plan_durations_ms, pool_chunksize, submission_order
from procviz.engine.worker.instrument import ChunkItem, TaskItem, run_chunk, run_task
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
    args: Sequence[tuple[Any, ...]] | None = None  # per task id, function workloads with arguments only
    no_args: bool = False  # every task is called with no arguments (a function workload without args)

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

    @property
    def chunk_items(self) -> PlanChunks:
        """The plan's Pool chunks in submission order, each a :data:`ChunkItem` made on demand."""
        return PlanChunks(self)

    def chunk_runner(self) -> partial[None]:
        """The function a backend maps over :attr:`chunk_items` (one call per chunk, in the worker)."""
        return partial(run_chunk, self.function, self.report)

    def shared_args(self) -> tuple[Any, ...] | None:
        """The arguments every task takes, when they are the same for all; else None."""
        if self.no_args:
            return ()
        cost = self.cost_ms
        if self.args is None and len(cost) and np.all(cost == cost[0]):
            return (float(cost[0]),)
        return None

    def item(self, task_id: int) -> TaskItem:
        """Task ``task_id`` as it travels."""
        if self.no_args:
            return task_id, ()
        if self.args is not None:
            return task_id, self.args[task_id]
        return task_id, (float(self.cost_ms[task_id]),)

    def each_args(self, ids: np.ndarray) -> tuple[tuple[Any, ...], ...]:
        """The arguments of tasks ``ids``, one tuple each."""
        if self.args is not None:
            args = self.args
            return tuple([args[t] for t in ids.tolist()])
        return tuple([(c,) for c in self.cost_ms[ids].tolist()])

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
        # Tasks that share their arguments share one tuple: the pickler then writes it once per
        # chunk and the workers unpickle one object, not one per task.
        shared = plan.shared_args()
        for start in range(0, len(order), _BLOCK):
            ids = order[start : start + _BLOCK]
            if shared is not None:
                yield from zip(ids.tolist(), repeat(shared))
            else:
                yield from zip(ids.tolist(), plan.each_args(ids), strict=True)


class PlanChunks(ChunkSequence):
    """A plan's Pool chunks in submission order, made lazily: chunk ``k`` holds the tasks
    ``order[k * chunksize : (k + 1) * chunksize]``, as ``Pool.map`` would cut them, so each
    task's chunk is ``plan.chunks``. Consecutive ids travel as a ``range``, shared arguments once."""

    def __init__(self, plan: TaskPlan) -> None:
        super().__init__(plan.n_tasks, plan.chunksize)
        self._plan = plan
        self._shared = plan.shared_args()
        self._consecutive = consecutive(plan.order)

    def chunk(self, k: int) -> ChunkItem:
        """Chunk ``k``: its task ids (a range when consecutive), their shared arguments or each one's."""
        plan, cs = self._plan, self._chunksize
        ids = plan.order[k * cs : (k + 1) * cs]
        shared = self._shared
        task_ids = range(int(ids[0]), int(ids[-1]) + 1) if self._consecutive else ids.tolist()
        return task_ids, shared, None if shared is not None else plan.each_args(ids)


def consecutive(order: np.ndarray, block: int = 1 << 16) -> bool:
    """Whether ``order`` is ``k, k + 1, k + 2, ...`` (not empty). Compared a block at a time: a
    million-task plan's whole-array temporaries cost ~10 ms, most of it in fresh pages."""
    if not len(order):
        return False
    ids = np.arange(block, dtype=order.dtype) + order[0]
    return all(np.array_equal(order[lo:lo + block], ids[: len(order[lo:lo + block])] + lo)
               for lo in range(0, len(order), block))


def build_plan(config: RunConfig) -> TaskPlan:
    """Every task of the run, ready to submit (columns only: fast at a million tasks)."""
    w = config.workload
    cost = plan_durations_ms(w)
    order = submission_order(config, cost)
    chunksize = pool_chunksize(config, w.count)
    chunks = np.empty(w.count, dtype=np.int32)
    chunks[order] = np.arange(w.count, dtype=np.int32) // chunksize
    if w.kind == "function":  # no arguments: nothing per task (a workload of just a count)
        no_args = not any(w.args)
        return TaskPlan(order, chunks, chunksize, cost, w.function, True, None if no_args else w.args, no_args=no_args)
    return TaskPlan(order, chunks, chunksize, cost, BUILTIN_FUNCTIONS[w.kind], False)


def _arg_text(args: tuple) -> str:
    text = ", ".join(repr(a) for a in args)
    return text if len(text) <= MAX_ARG_TEXT else text[: MAX_ARG_TEXT - 1] + "…"
