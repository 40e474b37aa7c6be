"""concurrent.futures backends: ``submit`` (with ``add_done_callback``) and ``map`` (with chunksize).

:class:`FuturesBackend` holds what ProcessPoolExecutor and ThreadPoolExecutor share: the two
submission APIs of the tutorial, waits that poll ``stop`` (a Stop never waits on a result), and
the done-callbacks, which run on whichever thread completes the future (the executor's manager
thread for processes, the worker thread itself for threads) and are drawn there as short bars.

:class:`ProcessPoolExecutorBackend` adds worker exits and the broken-pool rule (see
:mod:`procviz.engine.backends.executor_watch`): one worker that dies abruptly fails every pending future,
so the engine is told who broke the pool and which tasks were aborted because of it.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import threading
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

from procviz.engine.backends.base import Backend, Delivery, Submitted
from procviz.engine.backends.executor_watch import ExecutorWatch, watched_context
from procviz.engine.config import RunConfig
from procviz.engine.plan import TaskPlan
from procviz.engine.startup_watch import preload_function
from procviz.engine.worker.startup import bootstrap

POLL_S = 0.05
T = TypeVar("T")


class FuturesBackend(Backend):
    """A concurrent.futures executor driven through submit or map; subclasses make the executor."""

    chunks_travel_whole = False  # map: the plan's tasks one by one (a thread executor has no chunks)

    def __init__(self, config: RunConfig, address: str) -> None:
        super().__init__(config, address)
        self.executor: cf.Executor | None = None
        self._handed_over = False  # every call is with the executor: its futures will all resolve
        self._delivered = Delivery()  # every future resolved with the task's own outcome
        self._order = np.zeros(0, dtype=np.int64)

    def start(self) -> None:
        """Create the executor (its workers start on the first submit, as the executor does)."""
        self.executor = self.make_executor()

    @abstractmethod
    def make_executor(self) -> cf.Executor:
        """The configured executor."""

    # ---- submission (submitter thread) ----------------------------------------------------------

    def _submitted(self, ids: np.ndarray) -> None:
        self.submissions.put(Submitted(ids, time.monotonic_ns()))

    def _on_done(self, future: cf.Future) -> None:
        """add_done_callback target: records itself as a bar on the thread that ran it."""
        t = time.monotonic_ns()
        # A Stop cancels the futures not yet begun, and each one's callbacks run then (as they
        # would in the user's program): said as such, not as an error of the task.
        label = ("done callback (cancelled)" if future.cancelled()
                 else "done callback" if future.exception() is None else "done callback (error)")
        self.callbacks.put(threading.get_native_id(), t, time.monotonic_ns(), label)

    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Submit every call the way the configured API does, then wait for all results."""
        self._order = plan.order
        try:
            if self.config.api == "map":
                self._map(plan, stop)
            else:
                self._submit_each(plan, stop)
        except (cf.BrokenExecutor, RuntimeError):
            pass  # broken or shut down while submitting: the watch tells the engine why
        finally:
            self._handed_over = True

    def _map(self, plan: TaskPlan, stop: threading.Event) -> None:
        # Executor.map submits every chunk at once and returns a lazy iterator whose next() cannot
        # time out and resume; a helper thread drains it so this thread can keep polling stop.
        self._submitted(plan.order)
        assert self.executor is not None
        # Executor.map makes every future before it returns (seconds for a million tasks): the
        # items end at Stop, so a Stop does not wait for the rest to be made and then cancelled.
        if self.chunks_travel_whole:  # the executor's own chunks, each one call: see instrument.run_chunk
            results = self.executor.map(plan.chunk_runner(), _until(stop, plan.chunk_items), chunksize=1)
        else:
            results = self.executor.map(plan.runner(), _until(stop, plan.items), chunksize=plan.chunksize)
        self._handed_over = True
        drained = threading.Event()

        def drain() -> None:
            """Consume the results (discarded: outcomes travel as events)."""
            try:
                for _ in results:
                    pass
                if not stop.is_set():  # cut short by Stop (see _until): not every result came
                    self._delivered.mark()
            except BaseException:  # noqa: BLE001 - broken pool or cancelled: reported elsewhere
                pass
            drained.set()

        threading.Thread(target=drain, name="procviz-map-results", daemon=True).start()
        while not drained.wait(POLL_S) and not stop.is_set():
            pass

    def _submit_each(self, plan: TaskPlan, stop: threading.Event) -> None:
        assert self.executor is not None
        futures = []
        run, put_one, on_done = plan.runner(), self.submissions.put_one, self._on_done
        for item in plan.items:
            if stop.is_set():
                return
            put_one(item[0], time.monotonic_ns())
            future = self.executor.submit(run, item)
            future.add_done_callback(on_done)
            futures.append(future)
        self._handed_over = True
        pending = set(futures)
        while pending and not stop.is_set():
            _, pending = cf.wait(pending, timeout=POLL_S)
        # run_task never raises: an exception here is the pool's (broken, cancelled), not a task's
        if not pending and not any(f.cancelled() or f.exception() for f in futures):
            self._delivered.mark()

    # ---- state and shutdown ---------------------------------------------------------------------

    def results_complete(self) -> bool:
        """True once every call is submitted: then ``shutdown(wait=True)`` only waits for work in hand.

        Every future of a ProcessPoolExecutor resolves (a dead worker breaks the pool and fails
        them all), so a graceful shutdown cannot hang on a lost result; a thread stuck in a task
        is the one exception, and the engine falls back to a forced shutdown after its deadline.
        """
        return self._handed_over

    def all_results_delivered(self) -> bool:
        """Every future resolved with its task's outcome: a task still without an end lost its events."""
        return self._delivered.settled()

    def task_ids(self) -> np.ndarray:
        """Ids of the tasks handed to this backend (for verdicts)."""
        return np.asarray(self._order, dtype=np.int64)


class ProcessPoolExecutorBackend(FuturesBackend):
    """``ProcessPoolExecutor(max_workers, mp_context, initializer=bootstrap)``, measured."""

    # ``map`` gets the plan's chunks, one future each (chunksize 1): the ones the executor would
    # cut with the configured chunksize, each sent as a few dozen bytes and run in one call.
    chunks_travel_whole = True

    def __init__(self, config: RunConfig, address: str) -> None:
        super().__init__(config, address)
        self.watch = ExecutorWatch(self.exits, self.verdicts, self.task_ids, self._exit_hint)

    def make_executor(self) -> cf.Executor:
        """An executor whose workers report their exits to the watch."""
        ctx = watched_context(self.config.start_method, self.watch)
        return cf.ProcessPoolExecutor(self.config.workers, mp_context=ctx, initializer=bootstrap,
                                      initargs=(self.address, preload_function(self.config)))

    def _exit_hint(self, code: int | None) -> str:
        if code == -signal.SIGTERM and self.config.task_timeout_s is not None:
            return " (a task timeout ends its worker with SIGTERM)"
        return ""

    def shutdown(self, graceful: bool) -> None:
        """Graceful: ``shutdown(wait=True)``; otherwise cancel, SIGTERM, SIGKILL the workers."""
        try:
            if self.executor is None:
                return
            if graceful:
                self.executor.shutdown(wait=True)
                return
            self.watch.ending = True
            self.executor.shutdown(wait=False, cancel_futures=True)
            self._end_workers()
        finally:
            for proc in self.watch.unreported():
                proc.join(1.0)  # reports through the watch
            self.watch.close()

    def _end_workers(self, grace_s: float = 0.5) -> None:
        live = [p for p in self.watch.unreported() if p.pid]
        for proc in live:
            _kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in live:
            proc.join(max(deadline - time.monotonic(), 0.0))
        for proc in self.watch.unreported():
            _kill(proc.pid, signal.SIGKILL)

    def worker_pids(self) -> list[int]:
        """Every worker the executor has started."""
        return self.watch.pids()


def _until(stop: threading.Event, items: Iterable[T]) -> Iterator[T]:
    """``items`` until ``stop`` is set."""
    for item in items:
        if stop.is_set():
            return
        yield item


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
