"""What a scenario's main program can do: start role processes, join them, gate them, use a Manager.

A :class:`ScenarioRun` is handed to each main program (task 0, running in the engine's process).
Its blocking calls poll the run's stop flag and watch the role processes: a Stop, or a role that
dies when it should not, ends the scenario with a clear error instead of a hang. Joins are
recorded as ``process.join`` waits on the main program's lane.
"""

from __future__ import annotations

import queue as std_queue
import threading
import time
from multiprocessing.managers import SyncManager
from multiprocessing.process import BaseProcess
from typing import Any

from procviz.engine.backends.children import POLL_S, ChildSet, child_init
from procviz.engine.config import RunConfig
from procviz.engine.events import describe_exit
from procviz.engine.plan import TaskPlan
from procviz.engine.scenarios.roles import MAIN_TASK, StartGate, Work  # noqa: F401 - re-exported
from procviz.engine.spawner import in_spawner_thread
from procviz.engine.worker.primitives import Queue, record_wait
from procviz.engine.worker.workloads import BUILTIN_FUNCTIONS


class ScenarioAborted(RuntimeError):
    """The scenario cannot go on: stopped, or a role process died."""


class ScenarioRun:
    """The main program's toolbox for one scenario run."""

    def __init__(self, config: RunConfig, plan: TaskPlan, address: str, mp: Any, children: ChildSet,
                 stop: threading.Event) -> None:
        self.config = config
        self.plan = plan
        self.address = address
        self.mp = mp
        self.children = children
        self.stop = stop
        self.daemons: list[BaseProcess] = []
        self.procs: list[BaseProcess] = []
        self.managers: list[SyncManager] = []
        self._names: dict[int | None, str] = {}  # by pid (None only before a start)

    # ---- roles ----------------------------------------------------------------------------------

    @property
    def role_ids(self) -> list[int]:
        """Task ids of the role processes, in task-id order (role k is task k)."""
        return list(range(1, self.plan.n_tasks))

    @property
    def launch_order(self) -> list[int]:
        """Role task ids in the configured submission order (fifo, sjf, ljf, random)."""
        return [int(t) for t in self.plan.order if t != MAIN_TASK]

    def work(self, task_id: int) -> Work:
        """The built-in work a role does per step: the workload's kind for its planned duration."""
        return Work(BUILTIN_FUNCTIONS[self.config.workload.kind], float(self.plan.cost_ms[task_id]))

    def start(self, task_id: int, function: str, args: tuple[Any, ...], name: str,
              daemon: bool = False) -> BaseProcess:
        """Start the process of one role; its lane is called ``name`` and shows the daemon flag."""
        from procviz.engine.scenarios.roles import role_main

        self._check_stop()
        lane = f"{name} · task {task_id}" + (" · daemon" if daemon else "")
        proc = self.children.start(role_main, (self.address, lane, function, (task_id, args)), lane, daemon)
        self._names[proc.pid] = name
        self.procs.append(proc)
        if daemon:
            self.daemons.append(proc)
        return proc

    def start_roles(self, roles: dict[int, tuple[str, tuple[Any, ...], str, bool]]) -> dict[int, BaseProcess]:
        """Start ``{task_id: (function, args, name, daemon)}`` in the configured launch order."""
        return {t: self.start(t, *roles[t]) for t in self.launch_order if t in roles}

    # ---- waiting --------------------------------------------------------------------------------

    def join(self, procs: list[BaseProcess]) -> None:
        """Join ``procs`` (recorded as ``process.join``); any role failing meanwhile aborts the scenario."""
        t0 = time.monotonic_ns()
        try:
            while self.children.unreaped(procs):
                self._check_stop()
                self.children.wait(procs, POLL_S)
                self._check_deaths()
        finally:
            record_wait("process.join", t0, time.monotonic_ns())

    def put(self, q: Queue, item: Any) -> None:
        """``q.put(item)`` that gives up if the run stops or a role dies."""
        while True:
            try:
                q.put(item, timeout=POLL_S)
                return
            except std_queue.Full:
                self._check_stop()
                self.children.reap()
                self._check_deaths()

    def wait_ready(self, gate: StartGate, procs: list[BaseProcess]) -> None:
        """Wait until every one of ``procs`` said ready at ``gate`` (recorded as ``gate.ready``)."""
        t0 = time.monotonic_ns()
        try:
            for _ in procs:
                while not gate.ready.acquire(True, POLL_S):
                    self._check_stop()
                    self.children.reap()
                    self._check_deaths()
        finally:
            record_wait("gate.ready", t0, time.monotonic_ns())

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` (the main program's own delay), giving up if the run stops or a role dies."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stop.wait(min(left, POLL_S)):
                raise ScenarioAborted("stopped")
            self.children.reap()
            self._check_deaths()

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise ScenarioAborted("stopped")

    def _check_deaths(self) -> None:
        for proc in self.procs:
            if self.children.exited(proc) and proc.exitcode != 0:
                name = self._names.get(proc.pid, "a role")
                raise ScenarioAborted(f"{name} (pid {proc.pid}) {describe_exit(proc.exitcode)}")

    # ---- Manager --------------------------------------------------------------------------------

    def manager(self) -> SyncManager:
        """Start a ``Manager()`` whose server process shows as its own lane."""
        manager = SyncManager(ctx=self.mp)
        # started by the long-lived spawner thread: the server arms PR_SET_PDEATHSIG
        in_spawner_thread(lambda: manager.start(initializer=child_init,
                                                initargs=(self.address, "Manager server process")))
        proc = getattr(manager, "_process", None)  # the server process (no public accessor)
        if proc is not None:
            self.children.adopt(proc)
        self.managers.append(manager)
        return manager

    def shutdown_managers(self) -> None:
        """Stop every Manager server (they exit with code 0) and report their exits."""
        for manager in self.managers:
            try:
                manager.shutdown()
            except Exception:  # noqa: BLE001 - already gone: the sweep reports it
                pass
        self.managers.clear()
        self.children.reap()
