"""Watching a ProcessPoolExecutor's workers: exit codes, and who broke the pool.

ProcessPoolExecutor has no hook for its workers, but it creates them with ``mp_context.Process``.
The backend hands it a fresh context whose ``Process`` makes observed process objects
(:mod:`procviz.engine.worker.process`), which tell an :class:`ExecutorWatch` when they start, when
the executor terminates them and when they are joined (with the exit code).

Why terminate matters: when one worker dies abruptly, the executor's manager thread fails every
pending future with BrokenProcessPool and then calls ``terminate()`` on *every* worker
(CPython ``_ExecutorManagerThread.terminate_broken``). At that first call the culprit is the
worker that is already dead; the live ones are collateral. The watch reports the culprit's exit
at once and then a :class:`~procviz.engine.backends.base.TaskVerdict` for the whole pool, so no task is
left with a bare BrokenProcessPool: the culprit's task fails as "worker died", the others as
aborted by the broken pool, naming the culprit's PID.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from procviz.engine.backends.base import TaskVerdict, WorkerExit
from procviz.engine.events import describe_exit
from procviz.engine.spawner import in_spawner_thread
from procviz.engine.worker.process import OBSERVED, forget_observer, register_observer, start_processes_in

HANDOVER_S = 0.5
start_processes_in(in_spawner_thread)  # workers fork from the long-lived spawner thread


class ExecutorWatch:
    """The engine's view of one executor's worker processes (called from the executor's threads)."""

    def __init__(self, exits: queue.SimpleQueue[WorkerExit], verdicts: queue.SimpleQueue[TaskVerdict],
                 task_ids: Callable[[], np.ndarray], hint: Callable[[int | None], str]) -> None:
        self._exits = exits
        self._verdicts = verdicts
        self._task_ids = task_ids
        self._hint = hint
        self._lock = threading.RLock()
        self.procs: list[Any] = []
        self._reported: set[int] = set()
        self._reasons: dict[int, str] = {}
        self.ending = False  # set by our own shutdown: its terminations are not a broken pool
        self.broken = ""  # why the pool broke, once it has
        # Process objects are pickled whole for spawn and forkserver, so they carry only this key.
        self.key = register_observer(self)

    def close(self) -> None:
        """Forget the registry entry (the processes keep their key, harmlessly)."""
        forget_observer(self.key)

    def pids(self) -> list[int]:
        """Every worker PID this executor has had."""
        with self._lock:
            return [p.pid for p in self.procs if p.pid]

    def on_start(self, proc: Any) -> None:
        """A worker was started."""
        with self._lock:
            self.procs.append(proc)

    def on_terminate(self, proc: Any) -> None:
        """The executor (or our shutdown) is about to SIGTERM ``proc``."""
        with self._lock:
            if self.ending:
                return
            if not self.broken:
                self._pool_broke()
            if proc.exitcode is None:
                self._reasons[proc.pid] = (f"worker pid {proc.pid} was terminated by ProcessPoolExecutor while "
                                           f"running this task: {self.broken}")

    def _pool_broke(self) -> None:
        """First terminate after a break: report the dead (the culprits), then the verdict."""
        culprits = []
        for p in self.procs:
            if p.pid in self._reported or not multiprocessing.connection.wait([p.sentinel], 0):
                continue  # alive: collateral, not a culprit
            # Its sentinel closes a moment before it becomes a zombie: join (this is the manager
            # thread, the executor's only joiner), which also reports the exit through on_join.
            p.join(1.0)
            code = p.exitcode
            how = describe_exit(code)
            how = "was " + how if how.startswith("killed") else how
            culprits.append(f"worker pid {p.pid} {how}{self._hint(code)}")
            if p.pid not in self._reported:
                self._report(p, code)
        if culprits:
            self.broken = "the pool broke when " + " and ".join(culprits)
        else:
            self.broken = "the pool broke (a worker's result could not be read back)"
        # Let the engine take the culprit's exit first, so the task it was running keeps its
        # "worker died" reason whatever order the engine drains exits and verdicts in.
        deadline = time.monotonic() + HANDOVER_S
        while not self._exits.empty() and time.monotonic() < deadline:
            time.sleep(0.005)
        self._verdicts.put(TaskVerdict(
            self._task_ids(), "BrokenProcessPool",
            f"aborted: {self.broken}; ProcessPoolExecutor then fails every pending future with "
            "BrokenProcessPool and terminates its other workers",
            time.monotonic_ns()))

    def on_join(self, proc: Any) -> None:
        """``proc`` was joined: report its exit code once."""
        with self._lock:
            code = proc.exitcode
            if code is not None and proc.pid not in self._reported:
                self._report(proc, code)

    def _report(self, proc: Any, code: int | None) -> None:
        self._reported.add(proc.pid)
        self._exits.put(WorkerExit(proc.pid, code, time.monotonic_ns(), self._reasons.get(proc.pid, "")))

    def unreported(self) -> list[Any]:
        """Workers whose exit was not reported yet."""
        with self._lock:
            return [p for p in self.procs if p.pid not in self._reported]


def watched_context(start_method: str, watch: ExecutorWatch) -> Any:
    """A new multiprocessing context of ``start_method`` whose Process reports to ``watch``.

    A fresh instance, never the shared ``multiprocessing.get_context()`` singleton, so nothing
    else in the process is affected.
    """
    ctx: Any = type(multiprocessing.get_context(start_method))()
    cls = OBSERVED[start_method]

    def make_process(*args: Any, **kwargs: Any) -> Any:
        """What the executor calls as ``mp_context.Process(...)``."""
        proc = cls(*args, **kwargs)
        proc._procviz_key = watch.key
        return proc

    ctx.Process = make_process
    return ctx
