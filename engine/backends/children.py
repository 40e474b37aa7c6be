"""Processes the engine starts one by one: a Process per task, the serial worker, scenario roles.

Their child side (entry points, start gate) is :mod:`procviz.engine.worker.child`, standard library
only, so that a child imports none of this module's parent-side dependencies.

Parent side, a :class:`ChildSet` starts processes, waits on their sentinels, and reports every
exit exactly once as a :class:`~procviz.engine.backends.base.WorkerExit` with its exit code. It is the
only code that joins its processes (under a lock), so exit codes are never lost to a race.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.process import BaseProcess
from typing import Any

from procviz.engine.backends.base import Backend, WorkerExit
from procviz.engine.config import RunConfig
from procviz.engine.spawner import in_spawner_thread
from procviz.engine.worker.child import StartGate, child_init, child_main

__all__ = ["POLL_S", "ChildProcessBackend", "ChildSet", "StartGate", "child_init", "child_main"]

POLL_S = 0.05


# ---- parent side -------------------------------------------------------------------------------


class ChildSet:
    """The processes one backend started: start, wait, reap (report exits), end."""

    def __init__(self, ctx: Any, exits: queue.SimpleQueue[WorkerExit]) -> None:
        self._ctx = ctx
        self._exits = exits
        self._lock = threading.Lock()
        self._procs: list[BaseProcess] = []
        self._reported: set[int] = set()
        self._reasons: dict[int, str] = {}

    def start(self, target: Callable[..., Any], args: tuple[Any, ...], name: str, daemon: bool) -> BaseProcess:
        """Create and start one process."""
        proc = self._ctx.Process(target=target, args=args, name=name, daemon=daemon)
        in_spawner_thread(proc.start)  # forked by a long-lived thread: see procviz.engine.spawner
        with self._lock:
            self._procs.append(proc)
        return proc

    def adopt(self, proc: BaseProcess) -> None:
        """Watch a process someone else started (e.g. a Manager's server)."""
        with self._lock:
            if proc not in self._procs:
                self._procs.append(proc)

    def pids(self) -> list[int]:
        """PIDs of every process started (alive or not)."""
        with self._lock:
            return [p.pid for p in self._procs if p.pid]

    def unreaped(self, procs: Iterable[BaseProcess] | None = None) -> list[BaseProcess]:
        """The processes among ``procs`` (default: all) whose exit was not yet reported."""
        with self._lock:
            pool = list(self._procs) if procs is None else list(procs)
            return [p for p in pool if p.pid not in self._reported]

    def wait(self, procs: Iterable[BaseProcess] | None = None, timeout: float = POLL_S) -> list[BaseProcess]:
        """Wait up to ``timeout`` for one of ``procs`` to exit; reap and return those that did."""
        live = self.unreaped(procs)
        if not live:
            return []
        multiprocessing.connection.wait([p.sentinel for p in live], timeout)
        return [p for p in self.reap() if p in live]

    def reap(self) -> list[BaseProcess]:
        """Report every process that has exited since the last call (once each)."""
        out = []
        with self._lock:
            for proc in self._procs:
                if proc.pid in self._reported:
                    continue
                code = proc.exitcode  # polls waitpid(WNOHANG): reaps a finished child
                if code is None:
                    continue
                assert proc.pid is not None  # it ran: it has a pid
                proc.join(0)  # drop it from multiprocessing's list of children
                self._reported.add(proc.pid)
                self._exits.put(WorkerExit(proc.pid, code, time.monotonic_ns(), self._reasons.get(proc.pid, "")))
                out.append(proc)
        return out

    def exited(self, proc: BaseProcess) -> bool:
        """Whether ``proc``'s exit has been reported."""
        with self._lock:
            return proc.pid in self._reported

    def join_all(self, procs: Iterable[BaseProcess] | None = None, timeout: float | None = None,
                 stop: threading.Event | None = None) -> bool:
        """Wait until every one of ``procs`` exited (or ``timeout``/``stop``); True if all did."""
        procs = list(procs) if procs is not None else None
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.unreaped(procs):
            if stop is not None and stop.is_set():
                return False
            left = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            if left <= 0:
                return False
            self.wait(procs, left)
        return True

    def end(self, procs: Iterable[BaseProcess] | None = None, grace_s: float = 0.5, reason: str = "") -> None:
        """SIGTERM the live ones (they flush their events), SIGKILL after ``grace_s``, reap all.

        ``reason`` (a template with ``{pid}``) is what the engine says of a task still running in
        a process ended here (e.g. "worker pid {pid} was terminated with the main program").
        """
        targets = [p for p in self.unreaped(procs) if p.is_alive()]
        for proc in targets:
            if reason and proc.pid is not None:
                self._reasons[proc.pid] = reason.format(pid=proc.pid)
            _signal(proc, signal.SIGTERM)
        if not self.join_all(targets, grace_s):
            for proc in self.unreaped(targets):
                _signal(proc, signal.SIGKILL)
            self.join_all(targets, 2.0)
        self.reap()


def _signal(proc: BaseProcess, sig: int) -> None:
    try:
        if proc.pid:
            os.kill(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ChildProcessBackend(Backend):
    """A backend whose workers are plain child Processes kept in a :class:`ChildSet`
    (one Process per task, the serial worker): one way to create, end and list them."""

    def __init__(self, config: RunConfig, address: str) -> None:
        super().__init__(config, address)
        self.ctx: Any = multiprocessing.get_context(config.start_method)
        self.children = ChildSet(self.ctx, self.exits)

    def shutdown(self, graceful: bool) -> None:
        """Graceful: wait for the processes to exit; otherwise SIGTERM, then SIGKILL them."""
        if graceful and self.children.join_all(timeout=None):
            return
        self.children.end()

    def worker_pids(self) -> list[int]:
        """Every process this backend started."""
        return self.children.pids()
