"""The scenario backend: the main program on a thread lane of this process, each role a Process.

``submit`` is the main program's thread. It announces itself as a "main program" lane, hands every
task over at once, and runs the scenario's main function as task 0 through the measured wrapper:
the main starts the role processes, joins them, checks the tutorial's outcome and returns it as
its result (or raises, failing task 0 with the reason). When the main program ends, its daemon
processes are ended with it (as multiprocessing does at exit) and its Managers are shut down.
"""

from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np

from procviz.engine.backends.base import Backend, Submitted
from procviz.engine.backends.children import ChildSet
from procviz.engine.backends.threads import attach_parent, detach_parent
from procviz.engine.config import RunConfig
from procviz.engine.events import LaneKind, TaskState, TaskVerdict
from procviz.engine.plan import TaskPlan
from procviz.engine.scenarios.context import MAIN_TASK, ScenarioRun
from procviz.engine.specs import SCENARIO_SPECS
from procviz.engine.worker.instrument import announce_thread, run_task

# What the engine says of a task still running in a process ended when the main program ends.
DAEMON_END_REASON = "worker pid {pid}, a daemon, was terminated (SIGTERM) with the main program while running this task"
LEFTOVER_REASON = "worker pid {pid} was terminated (SIGTERM) while running this task: the main program ended"
NOT_BEGUN_REASON = "had not begun when the main program ended (task 0 says why it ended)"


class ScenarioBackend(Backend):
    """Runs ``config.scenario``; see the module docstring."""

    def __init__(self, config: RunConfig, address: str) -> None:
        super().__init__(config, address)
        self.ctx = multiprocessing.get_context(config.start_method)
        self.children = ChildSet(self.ctx, self.exits)
        self._done = False
        self._run: ScenarioRun | None = None

    def start(self) -> None:
        """Nothing to prepare: processes start when the main program starts them."""

    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Be the main program: run the scenario's main as task 0, then end what it leaves behind."""
        attach_parent(self.address)
        announce_thread(LaneKind.THREAD, "main program")
        self.submissions.put(Submitted(plan.order, time.monotonic_ns()))
        run = self._run = ScenarioRun(self.config, plan, self.address, self.ctx, self.children, stop)
        try:
            run_task(SCENARIO_SPECS[self.config.scenario].main, True, (MAIN_TASK, (run,)))
        finally:
            self._done = True  # every task has ended or is ending: a graceful shutdown cannot hang
            self._end_main(run)
            self._cancel_unbegun(plan.n_tasks)

    def _end_main(self, run: ScenarioRun) -> None:
        run.shutdown_managers()
        self.children.end(run.daemons, reason=DAEMON_END_REASON)
        # Roles the main program did not join (it failed or was stopped) do not outlive it.
        self.children.end(reason=LEFTOVER_REASON)

    def _cancel_unbegun(self, n_tasks: int) -> None:
        """The roles' tasks that had not begun when the main program ended (it failed, or was
        stopped, before starting them, or ended their processes before they were ready) are
        cancelled, with that reason. Put after the ended roles' exits: a task that had begun keeps
        what its process's end says of it (the engine ends only tasks not yet ended). Without
        this, a main program that gave up on a dead role left the roles it never started waiting,
        until the engine's rule for workers that cannot start failed them all under its own
        message ("workers keep exiting before they are ready"), which became the run's outcome."""
        roles = np.arange(1, n_tasks, dtype=np.int64)
        if len(roles):
            self.verdicts.put(TaskVerdict(roles, "NotStarted", NOT_BEGUN_REASON, time.monotonic_ns(),
                                          TaskState.CANCELLED))

    def results_complete(self) -> bool:
        """True once the main program has returned."""
        return self._done

    def start_failures_matter(self) -> bool:
        """Only while the main program runs (see Backend.start_failures_matter)."""
        return not self._done

    def shutdown(self, graceful: bool) -> None:
        """End every process of the scenario, then stop recording from this process."""
        try:
            if self._run is not None:
                self._run.shutdown_managers()
            if not (graceful and self.children.join_all(timeout=5.0)):
                self.children.end()
        finally:
            detach_parent()

    def worker_pids(self) -> list[int]:
        """Role processes and Manager servers."""
        return self.children.pids()
