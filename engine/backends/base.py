"""The interface every backend implements, and the records backends hand to the engine.

A backend owns the workers (a Pool, an executor, processes, threads) and knows how to submit a
plan the way its API does it. It never touches the engine's bookkeeping: submissions and worker
exits are handed over as records the engine thread picks up (one writer per piece of state).
"""

from __future__ import annotations

import queue
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from engine.config import RunConfig
from engine.plan import TaskPlan


@dataclass(frozen=True, slots=True)
class Submitted:
    """Tasks handed to the backend at ``t_ns`` (they are queued from then on)."""

    task_ids: np.ndarray
    t_ns: int


@dataclass(frozen=True, slots=True)
class WorkerExit:
    """A worker process that has exited, as its parent saw it."""

    pid: int
    exit_code: int | None
    t_ns: int


@dataclass(frozen=True, slots=True)
class CallbackSpan:
    """A completion callback run in the parent (pool result thread, future's done-callback)."""

    tid: int
    start_ns: int
    end_ns: int
    label: str


class Backend(ABC):
    """Runs a plan's tasks on workers; see engine/backends/pool.py for the reference one."""

    #: "process" (workers are processes, reported by their own hello) or "thread"
    worker_kind = "process"

    def __init__(self, config: RunConfig, address: str) -> None:
        self.config = config
        self.address = address
        self.submissions: queue.SimpleQueue[Submitted] = queue.SimpleQueue()
        self.exits: queue.SimpleQueue[WorkerExit] = queue.SimpleQueue()
        self.callbacks: queue.SimpleQueue[CallbackSpan] = queue.SimpleQueue()

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

    @abstractmethod
    def shutdown(self, graceful: bool) -> None:
        """End the workers: close+join when graceful, terminate otherwise. May block."""

    @abstractmethod
    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes the backend currently knows (for the no-orphan sweep)."""
