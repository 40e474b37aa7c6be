"""Counts of a run's tasks kept from the engine's batches, for progress lines: no second timeline.

The engine's own :class:`~procviz.engine.timeline.Timeline` (in the run's result) keeps every
task; a consumer that only shows progress (``procviz run``) needs counts, not a copy of it.
:class:`RunTally` answers the same questions a progress line asks of a Timeline (``run``,
``n_tasks``, ``state_counts()``, ``finished_count()``, ``ran_count()``) for a few integers per batch.
"""

from __future__ import annotations

import queue

import numpy as np

from procviz.engine.events import EngineBatch, RunInfo, RunPhase, RunStatus, TaskState


class RunTally:
    """Task counts by state, updated from :class:`EngineBatch` es."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.run: RunInfo | None = None
        self.status: RunStatus | None = None
        self._counts = np.zeros(len(TaskState), dtype=np.int64)
        self._started = 0
        self._ended_started = 0  # ended tasks that had started (the others never ran)
        self._was_started = np.zeros(0, dtype=bool)  # one byte per task: enough to count RUNNING exactly

    @property
    def n_tasks(self) -> int:
        """How many tasks the run has."""
        return self.run.n_tasks if self.run is not None else 0

    def apply(self, batch: EngineBatch, notify: bool = False) -> None:
        """Count one batch (``notify`` is accepted for parity with Timeline.apply)."""
        if batch.run is not None:
            self._reset()  # a new run
            self.run = batch.run
            self._was_started = np.zeros(batch.run.n_tasks, dtype=bool)
        if batch.status is not None:
            self.status = batch.status
        if len(batch.started):
            self._started += len(batch.started)
            self._was_started[batch.started["task_id"]] = True
        ended = batch.ended
        if len(ended):
            self._counts += np.bincount(ended["state"], minlength=len(TaskState))[: len(TaskState)]
            self._ended_started += int(np.count_nonzero(self._was_started[ended["task_id"]]))

    def state_counts(self) -> dict[TaskState, int]:
        """Tasks per state: terminal ones counted exactly, RUNNING as started and not ended."""
        out = {s: int(self._counts[s]) for s in TaskState}
        out[TaskState.RUNNING] = max(self._started - self._ended_started, 0)
        return out

    def finished_count(self) -> int:
        """Tasks in a terminal state."""
        return int(self._counts[TaskState.DONE:].sum())

    def ran_count(self) -> int:
        """Tasks that ran to an end (``TaskState.ran``)."""
        return sum(int(self._counts[s]) for s in TaskState if s.ran)

    @property
    def finished(self) -> bool:
        """Whether the engine said the run is over."""
        return self.status is not None and self.status.phase == RunPhase.FINISHED


def drain_until(events: queue.SimpleQueue[EngineBatch], tally: RunTally, timeout_s: float) -> None:
    """Apply every waiting batch, blocking up to ``timeout_s`` for the first: the caller wakes as
    soon as the engine has news, never on a fixed poll."""
    try:
        tally.apply(events.get(timeout=timeout_s))
    except queue.Empty:
        return
    while True:
        try:
            tally.apply(events.get_nowait())
        except queue.Empty:
            return
