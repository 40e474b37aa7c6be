"""One ``multiprocessing.Process`` per task, at most ``workers`` alive at once (the tutorials' Process).

Every task pays for a whole process: creation, interpreter start and imports show as the lane's
"new" state (kernel creation time to the worker's hello), then the task runs measured, then the
process exits and its exit code closes the lane. Processes are daemonic, like Pool workers, so
none can outlive the engine's process; the lane name says so.

All tasks are handed to the backend at once (submitted), and wait for a free slot: their queued
time includes the start-up of the process that runs them.
"""

from __future__ import annotations

import threading
import time
from multiprocessing.process import BaseProcess

import numpy as np

from procviz.engine.backends.base import Delivery, Submitted, TaskVerdict
from procviz.engine.backends.children import POLL_S, ChildProcessBackend
from procviz.engine.config import RunConfig
from procviz.engine.events import describe_exit
from procviz.engine.plan import TaskPlan
from procviz.engine.worker.child import child_main

DAEMON = True


class ProcessBackend(ChildProcessBackend):
    """Starts a Process per task with up to ``config.workers`` running at a time."""

    def __init__(self, config: RunConfig, address: str) -> None:
        super().__init__(config, address)
        self._task_of: dict[int, int] = {}  # pid -> task id
        self._launched_all = False
        self._clean_exits = 0
        self._delivered = Delivery()

    def start(self) -> None:
        """Nothing runs yet: processes are created as tasks are submitted."""

    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Start a process per call in plan order, keeping ``workers`` alive; returns when all exited."""
        self.submissions.put(Submitted(plan.order, time.monotonic_ns()))
        pending = list(plan.items)
        running: list[BaseProcess] = []
        while (pending or running) and not stop.is_set():
            while pending and len(running) < self.config.workers and not stop.is_set():
                item = pending.pop(0)
                name = f"Process · task {item[0]}" + (" · daemon" if DAEMON else "")
                proc = self.children.start(child_main, (self.address, name, plan.function, plan.report, (item,)),
                                           name, DAEMON)
                assert proc.pid is not None  # started
                self._task_of[proc.pid] = item[0]
                running.append(proc)
            self._launched_all = not pending
            for proc in self.children.wait(running, POLL_S):
                running.remove(proc)
                self._judge(proc)

    def _judge(self, proc: BaseProcess) -> None:
        """A process that died may have taken its task with it before reporting the start."""
        code = proc.exitcode
        if code == 0:
            self._clean_exits += 1
            if self._launched_all and self._clean_exits == len(self._task_of):
                self._delivered.mark()
        if code == 0 or proc.pid not in self._task_of:
            return
        task = self._task_of[proc.pid]
        self.verdicts.put(TaskVerdict(
            np.array([task]), "WorkerDied",
            f"its Process pid {proc.pid} {describe_exit(code)} before the task reported an end",
            time.monotonic_ns()))

    def results_complete(self) -> bool:
        """True once every task has its process (the rest is waiting for them to exit)."""
        return self._launched_all

    def all_results_delivered(self) -> bool:
        """Every task's process exited normally: a task still without an end lost its events."""
        return self._delivered.settled()


