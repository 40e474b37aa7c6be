"""Serial: every task back to back in one worker process, the baseline speedups are measured against.

The worker is a plain loop over the calls (no pool, no per-task messages). Tasks are handed over
when the worker is ready, so the makespan is the tasks' own time and the speedup is 1: the
tutorial's ``map(foo, data)`` without ``Pool``. A shared counter tells the parent how far the loop
got; if the worker dies (killed, timed out), a new one continues with the calls never taken.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from procviz.engine.backends.base import Delivery, Submitted, TaskVerdict
from procviz.engine.backends.children import POLL_S, ChildProcessBackend
from procviz.engine.config import RunConfig
from procviz.engine.events import describe_exit
from procviz.engine.plan import TaskPlan
from procviz.engine.worker.child import StartGate, child_main
from procviz.engine.worker.instrument import TaskItem

MAX_FRUITLESS_STARTS = 3  # workers dying before they take a task: give up after this many


class SerialBackend(ChildProcessBackend):
    """Runs the plan in order on one worker process (replaced only if it dies)."""

    def __init__(self, config: RunConfig, address: str) -> None:
        super().__init__(config, address)
        self._handed_over = False  # the current worker holds every call not yet run
        self._ran_all = Delivery()  # ... and it exited normally after taking the last one

    def start(self) -> None:
        """Nothing to prepare: the worker starts when the plan is submitted."""

    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Run the calls in one worker; after a crash, continue with the rest in a new one."""
        calls = list(plan.items)
        submitted = False
        fruitless = 0
        generation = 0
        while calls and not stop.is_set():
            generation += 1
            name = "serial worker" + (f" (replacement {generation - 1})" if generation > 1 else "")
            progress = self.ctx.RawValue("q", 0)
            gate = StartGate.make(self.ctx)
            proc = self.children.start(child_main, (self.address, name, plan.function, plan.report, tuple(calls),
                                                    progress, gate), name, True)
            if self._wait_ready(gate, proc, stop):
                if not submitted:
                    self.submissions.put(Submitted(plan.order, time.monotonic_ns()))
                    submitted = True
                self._handed_over = True
                gate.go.set()
            self.children.join_all([proc], stop=stop)
            if stop.is_set():
                return
            taken = int(progress.value)
            code = proc.exitcode
            if code == 0 and taken == len(calls):
                self._ran_all.mark()
                break
            self._handed_over = False
            fruitless = fruitless + 1 if taken == 0 else 0
            if taken:
                self._verdict([calls[taken - 1]], proc.pid, code, "while running this task")
            calls = calls[taken:]
            if fruitless >= MAX_FRUITLESS_STARTS:
                self._verdict(calls, proc.pid, code, f"before taking a task, {fruitless} times in a row")
                break

    def _wait_ready(self, gate: StartGate, proc: Any, stop: threading.Event) -> bool:
        while not gate.ready.wait(POLL_S):
            if stop.is_set() or self.children.exited(proc) or self.children.wait([proc], 0):
                return False
        return True

    def _verdict(self, calls: list[TaskItem], pid: int | None, code: int | None, when: str) -> None:
        """Tasks the dead worker took with it (ignored by the engine if already reported)."""
        ids = np.array([c[0] for c in calls], dtype=np.int64)
        self.verdicts.put(TaskVerdict(ids, "WorkerDied", f"serial worker pid {pid} {describe_exit(code)} {when}",
                                      time.monotonic_ns()))

    def results_complete(self) -> bool:
        """True once a live worker holds every remaining call: it ends by itself, join it."""
        return self._handed_over

    def all_results_delivered(self) -> bool:
        """The last worker ran every call and exited normally."""
        return self._ran_all.settled()


