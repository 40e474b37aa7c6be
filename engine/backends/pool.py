"""The ``multiprocessing.Pool`` backend: every Pool API the tutorials teach, measured.

Blocking APIs (``map``, ``apply``, ``imap`` iteration) are carried out through their async forms
with polled waits: ``Pool.map`` *is* ``map_async(...).get()``, and ``Pool.apply`` *is*
``apply_async(...).get()``, so what the workers see is the same while a lost result (a killed
worker, ``os._exit`` in a task) can never hang the engine.

Worker exits are observed through a ``Process`` subclass whose ``join`` reports the exit code:
the Pool's own maintenance thread joins dead workers (and replaces them), so the engine learns of
every exit, with its code, within the Pool's 0.1 s polling period.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import threading
import time
from multiprocessing.context import ForkProcess, ForkServerProcess, SpawnProcess
from typing import Any

import numpy as np

from engine.backends.base import Backend, CallbackSpan, Submitted, WorkerExit
from engine.instrument import run_task as _run_task
from engine.instrument import worker_init
from engine.plan import TaskPlan

POLL_S = 0.05

# Process objects are pickled whole for spawn and forkserver, so they may carry only plain data:
# the exit sink is found through this registry by a key, not held as an attribute.
_EXIT_SINKS: dict[int, Any] = {}
_sink_counter = iter(range(1, 1 << 62))


class _ObservedMixin:
    """Reports the process's exit code to the owning backend when the Pool joins it."""

    _procviz_sink = 0
    _procviz_reported = False

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)  # type: ignore[misc]
        code = self.exitcode  # type: ignore[attr-defined]
        if code is not None and not self._procviz_reported:
            self._procviz_reported = True
            sink = _EXIT_SINKS.get(self._procviz_sink)
            if sink is not None:
                sink.put(WorkerExit(self.pid, code, time.monotonic_ns()))  # type: ignore[attr-defined]


class ObservedSpawnProcess(_ObservedMixin, SpawnProcess):
    """A spawn worker whose exit the engine hears of."""


class ObservedForkServerProcess(_ObservedMixin, ForkServerProcess):
    """A forkserver worker whose exit the engine hears of."""


class ObservedForkProcess(_ObservedMixin, ForkProcess):
    """A fork worker whose exit the engine hears of."""


_OBSERVED = {"spawn": ObservedSpawnProcess, "forkserver": ObservedForkServerProcess, "fork": ObservedForkProcess}


class ObservedPool(multiprocessing.pool.Pool):
    """A Pool whose worker processes report their exit codes to a queue."""

    def __init__(self, *args: Any, exit_sink_key: int, start_method: str, **kwargs: Any) -> None:
        self._procviz_key = exit_sink_key
        self._procviz_cls = _OBSERVED[start_method]
        super().__init__(*args, **kwargs)

    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # noqa: N802 - Pool's hook name
        """Create a worker of the observed class (the Pool calls this for every new worker)."""
        proc = self._procviz_cls(*args, **kwds)
        proc._procviz_sink = self._procviz_key
        return proc

    def worker_processes(self) -> list[Any]:
        """The Pool's current worker Process objects."""
        return list(getattr(self, "_pool", []))


class PoolBackend(Backend):
    """Runs tasks on a ``multiprocessing.Pool`` with the configured API and chunksize."""

    def start(self) -> None:
        """Create the Pool; workers spawn in the background and announce themselves."""
        self._key = next(_sink_counter)
        _EXIT_SINKS[self._key] = self.exits
        self._results: list[Any] = []
        self._delivered = False
        self._known: dict[int, Any] = {}
        ctx = multiprocessing.get_context(self.config.start_method)
        self.pool = ObservedPool(
            self.config.workers, initializer=worker_init, initargs=(self.address,),
            maxtasksperchild=self.config.maxtasksperchild, context=ctx,
            exit_sink_key=self._key, start_method=self.config.start_method,
        )

    # ---- submission (submitter thread) ----------------------------------------------------------

    def _submitted(self, ids: np.ndarray) -> None:
        self.submissions.put(Submitted(ids, time.monotonic_ns()))

    def _callback(self, label: str) -> Any:
        """A completion callback: records itself as a span on the parent's result thread."""

        def done(_: Any) -> None:
            t = time.monotonic_ns()
            self.callbacks.put(CallbackSpan(threading.get_native_id(), t, time.monotonic_ns(), label))

        return done

    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Call the configured Pool API exactly as a user program would."""
        self._delivered = self._submit(plan, stop)

    def _submit(self, plan: TaskPlan, stop: threading.Event) -> bool:
        api, cs, calls = self.config.api, plan.chunksize, plan.calls
        pool = self.pool
        if api in ("map", "map_async", "starmap"):
            self._submitted(plan.order)
            if api == "starmap":
                r = pool.starmap_async(_run_task, [(c,) for c in calls], chunksize=cs)
            else:
                r = pool.map_async(_run_task, calls, chunksize=cs)
            self._results.append(r)
            return self._wait(r, stop)
        elif api in ("imap", "imap_unordered"):
            self._submitted(plan.order)
            it = (pool.imap if api == "imap" else pool.imap_unordered)(_run_task, calls, chunksize=cs)
            self._results.append(it)
            remaining = len(calls)
            while remaining and not stop.is_set():
                try:
                    it.next(timeout=POLL_S)
                    remaining -= 1
                except multiprocessing.TimeoutError:
                    continue
                except StopIteration:
                    break
            return remaining == 0
        elif api == "apply":
            for call in calls:  # one at a time: each waits for the previous result
                self._submitted(np.array([call.task_id]))
                r = pool.apply_async(_run_task, (call,))
                if not self._wait(r, stop):
                    return False
            return True
        else:  # apply_async: everything at once, with callbacks on the result thread
            for call in calls:
                if stop.is_set():
                    return False
                self._submitted(np.array([call.task_id]))
                r = pool.apply_async(_run_task, (call,), callback=self._callback("callback"),
                                     error_callback=self._callback("error_callback"))
                self._results.append(r)
            return all(self._wait(r, stop) for r in self._results)

    @staticmethod
    def _wait(result: Any, stop: threading.Event) -> bool:
        """Wait for an AsyncResult, polling ``stop``; False if stopped or never delivered."""
        while not stop.is_set():
            result.wait(POLL_S)
            if result.ready():
                return True
        return False

    # ---- state and shutdown ---------------------------------------------------------------------

    def results_complete(self) -> bool:
        """Whether every Pool job delivered its result (close+join cannot hang then)."""
        return self._delivered

    def shutdown(self, graceful: bool) -> None:
        """close()+join() when every result is in; otherwise end the workers first, then the Pool.

        ``Pool.terminate()`` alone can hang: its first step takes the task queue's reader lock,
        which an idle worker holds while it blocks reading, and which a killed worker holds
        forever. So for a Stop (or lost work) the workers get SIGTERM (they flush their events
        and die), SIGKILL after a grace period, and only then is the Pool terminated; if that still
        waits on the dead holder's lock, the lock is released on its behalf.
        """
        try:
            for proc in self.pool.worker_processes():
                self._known[proc.pid] = proc
            if graceful:
                self.pool.close()
                self.pool.join()
                return
            # Stop the Pool from replacing the workers about to be ended (what terminate() does first).
            handler = getattr(self.pool, "_worker_handler", None)
            if handler is not None:
                handler._state = multiprocessing.pool.TERMINATE
            time.sleep(0.15)  # one maintenance period: a replacement being created now finishes
            for proc in self.pool.worker_processes():
                self._known[proc.pid] = proc
            self._end_workers()
            ender = threading.Thread(target=self.pool.terminate, name="procviz-pool-terminate", daemon=True)
            ender.start()
            ender.join(0.5)
            if ender.is_alive():
                try:
                    self.pool._inqueue._rlock.release()  # type: ignore[attr-defined]
                except (AttributeError, ValueError, OSError):
                    pass
                ender.join(2.0)
        finally:
            # Workers the Pool already joined reported through join(); make sure the rest do too.
            for proc in list(self._known.values()):
                proc.join(0)
            _EXIT_SINKS.pop(self._key, None)

    def _end_workers(self, grace_s: float = 0.5) -> None:
        procs = [p for p in self._known.values() if p.exitcode is None]
        for proc in procs:
            try:
                proc.terminate()
            except (OSError, AttributeError):
                pass
        deadline = time.monotonic() + grace_s
        for proc in procs:
            proc.join(max(deadline - time.monotonic(), 0.0))
            if proc.exitcode is None:
                try:
                    proc.kill()
                except (OSError, AttributeError):
                    pass
                proc.join(0.5)

    def worker_pids(self) -> list[int]:
        """Current and past worker PIDs seen by this backend."""
        for proc in self.pool.worker_processes():
            self._known[proc.pid] = proc
        return [pid for pid in self._known if pid]
