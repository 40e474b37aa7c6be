"""The interface every backend implements.

A backend owns the workers (a Pool, an executor, processes, threads) and knows how to submit a
plan the way its API does it. It never touches the engine's bookkeeping: submissions and worker
exits are handed over as records (:mod:`procviz.engine.events`) the engine thread picks up, tasks
handed over one by one and completion callbacks as rows of a log
(:mod:`procviz.engine.backends.handover`) it takes in bulk (one writer per piece of state).
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod

import numpy as np

from procviz.engine.backends.handover import CallbackLog, SubmissionLog
from procviz.engine.config import RunConfig
from procviz.engine.events import LaneKind, Submitted, TaskVerdict, WorkerExit
from procviz.engine.plan import TaskPlan

# The records are defined in events; backends may keep importing them from here.
__all__ = ["Backend", "Delivery", "Submitted", "TaskVerdict", "WorkerExit"]


class Delivery:
    """When a backend saw the last task's result; "settled" once its events had time to arrive.

    A backend's ``all_results_delivered()`` answers ``settled()``: the engine then ends a task
    still missing its end event as lost events. The grace matters: a result can come back a
    moment before the worker's last datagram is drained, and tasks may have been quiet for long.
    """

    GRACE_S = 1.0

    def __init__(self) -> None:
        self._at: float | None = None

    def mark(self) -> None:
        """Every result is in (the first call counts)."""
        if self._at is None:
            self._at = time.monotonic()

    def settled(self) -> bool:
        """Marked at least GRACE_S ago."""
        return self._at is not None and time.monotonic() - self._at > self.GRACE_S


class Backend(ABC):
    """Runs a plan's tasks on workers; see engine/backends/pool.py for the reference one."""

    #: processes (each reported by its own hello) or threads
    worker_kind = LaneKind.PROCESS

    def __init__(self, config: RunConfig, address: str) -> None:
        self.config = config
        self.address = address
        self.submissions = SubmissionLog()
        self.exits: queue.SimpleQueue[WorkerExit] = queue.SimpleQueue()
        self.callbacks = CallbackLog()
        self.verdicts: queue.SimpleQueue[TaskVerdict] = queue.SimpleQueue()
        # Task ids the engine ended itself (timeout, dead worker, lost): their results never come,
        # so a backend that waits on them one by one (Pool.apply) must go on. Engine thread writes.
        self.abandoned: set[int] = set()

    def abandon(self, task_ids: np.ndarray) -> None:
        """The engine ended these tasks itself (timeout, dead worker, lost): stop waiting for them."""
        self.abandoned.update(task_ids.tolist())

    @abstractmethod
    def start(self) -> None:
        """Create the workers (returns before they are ready; they announce themselves)."""

    @abstractmethod
    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Submit every call the way the configured API does; runs in the submitter thread.

        Blocking APIs block here, polling ``stop`` so a Stop never waits on a lost result.
        """

    @abstractmethod
    def results_complete(self) -> bool:
        """True when the backend has delivered every result (a graceful shutdown cannot hang)."""

    def start_failures_matter(self) -> bool:
        """Whether a worker that exits before it is ready still says the run cannot start its
        workers (True here). A scenario's processes that end unready once its main program has
        ended were ended with it, or began just as it gave up: not a start-up failure."""
        return True

    def all_results_delivered(self) -> bool:
        """True when every task's result is known to have come back (see :class:`Delivery`); a
        task still without its END event is then one whose events were lost."""
        return False

    def cancel(self) -> None:  # noqa: B027 - optional hook: most backends start their workers quickly
        """Give up starting workers (a Stop while :meth:`start` is still creating them)."""

    @abstractmethod
    def shutdown(self, graceful: bool) -> None:
        """End the workers: close+join when graceful, terminate otherwise. May block."""

    @abstractmethod
    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes the backend currently knows (for the no-orphan sweep)."""
