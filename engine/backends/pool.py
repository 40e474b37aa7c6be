"""The ``multiprocessing.Pool`` backend: every Pool API the tutorials teach, measured.

Blocking APIs (``map``, ``apply``, ``imap`` iteration) are carried out through their async forms
with polled waits: ``Pool.map`` *is* ``map_async(...).get()``, and ``Pool.apply`` *is*
``apply_async(...).get()``, so what the workers see is the same while a lost result (a killed
worker, ``os._exit`` in a task) can never hang the engine.

Worker exits are observed through a ``Process`` subclass (:mod:`procviz.engine.worker.process`)
whose ``join`` reports the exit code:
the Pool's own maintenance thread joins dead workers (and replaces them), so the engine learns of
every exit, with its code, within the Pool's 0.1 s polling period.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import threading
import time
from typing import Any

import numpy as np

from procviz.engine.backends.base import Backend, Delivery, Submitted
from procviz.engine.backends.pool_creation import (  # noqa: F401 - CreationCancelled re-exported
    CreationCancelled,
    ObservedPool,
    take_creation,
)
from procviz.engine.backends.pool_submit import CHUNK_APIS, EarlyPlan, call_chunk_api
from procviz.engine.plan import TaskPlan, consecutive
from procviz.engine.worker.process import forget_observer

POLL_S = 0.05
MAINTENANCE_JOIN_S = 2.0  # at most, for the Pool's maintenance thread to leave (it creates a worker at worst)


def _is_early_plan(plan: TaskPlan, early: EarlyPlan) -> bool:
    """Whether ``plan`` is exactly the tasks of ``early``: same function, reporting, count,
    chunksize and arguments, ids in order."""
    n = plan.n_tasks
    return (plan.function == early.function and plan.report == early.report and plan.chunksize == early.chunksize
            and n == early.count and plan.shared_args() == early.args
            and (n == 0 or (int(plan.order[0]) == 0 and consecutive(plan.order))))


def map_plan(pool: multiprocessing.pool.Pool, plan: TaskPlan, timeout_s: float | None = None) -> None:
    """Run every task of ``plan`` with ``Pool.map`` as the backend does, and wait (benchmarks/bench_worker.py)."""
    pool.map_async(plan.chunk_runner(), plan.chunk_items, chunksize=1).get(timeout_s)


class PoolBackend(Backend):
    """Runs tasks on a ``multiprocessing.Pool`` with the configured API and chunksize."""

    def __init__(self, config: Any, address: str) -> None:
        super().__init__(config, address)
        # The Pool's creation may have begun before the engine was imported (procviz run): adopted.
        self._creation = take_creation(config, address)
        self.exits = self._creation.exits
        self._key = self._creation.key
        self._results: list[Any] = []
        self._delivered = False
        self._delivery = Delivery()  # when _delivered was first seen: END datagrams get a grace
        self._created = self._creation.created  # every worker Process ever made, by id()
        self._cancelled = self._creation.cancelled
        self.pool: ObservedPool | None = None

    def start(self) -> None:
        """Create the Pool (the runner calls this on its submitter thread: with many workers
        under spawn, creation takes seconds, and a Stop must not wait for it)."""
        self.pool = self._creation.result()

    def cancel(self) -> None:
        """Stop creating workers (a Stop during Pool creation, or replacements of dying ones)."""
        self._cancelled.set()
        handler = getattr(self.pool, "_worker_handler", None)
        if handler is not None:  # the maintenance thread leaves instead of creating replacements
            handler._state = multiprocessing.pool.TERMINATE

    # ---- submission (submitter thread) ----------------------------------------------------------

    def _submitted(self, ids: np.ndarray) -> None:
        self.submissions.put(Submitted(ids, time.monotonic_ns()))

    def _callback(self, label: str) -> Any:
        """A completion callback: records itself as a span on the parent's result thread."""
        put, now, native_id = self.callbacks.put, time.monotonic_ns, threading.get_native_id

        def done(_: Any) -> None:
            t = now()
            put(native_id(), t, now(), label)

        return done

    def submit(self, plan: TaskPlan, stop: threading.Event) -> None:
        """Call the configured Pool API exactly as a user program would."""
        self._delivered = self._submit(plan, stop)

    def _submit(self, plan: TaskPlan, stop: threading.Event) -> bool:
        api, items, run = self.config.api, plan.items, plan.runner()
        pool = self.pool
        assert pool is not None
        if api in CHUNK_APIS:  # the plan's chunks, one Pool task each (see call_chunk_api)
            handle = self._submit_chunks(plan)
            if api in ("imap", "imap_unordered"):
                remaining = len(plan.chunk_items)
                while remaining and not stop.is_set():
                    try:
                        handle.next(timeout=POLL_S)
                        remaining -= 1
                    except multiprocessing.TimeoutError:
                        continue
                    except StopIteration:
                        break
                return remaining == 0
            self._results.append(handle)
            return self._wait(handle, stop)
        if api == "apply":
            delivered = True
            for item in items:  # one at a time: each waits for the previous result
                self.submissions.put_one(item[0], time.monotonic_ns())
                r = pool.apply_async(run, (item,))
                if not self._wait(r, stop, item[0]):
                    if stop.is_set():
                        return False
                    delivered = False  # the engine ended it (timeout, dead worker): go on, as a
                    # user's try/except around apply() with a timeout would
            return delivered
        else:  # apply_async: everything at once, with callbacks on the result thread
            pairs = []
            # One pair of callbacks for every task (they are the same): two closures a task cost
            # the submitter ~1 us each, and their garbage the collector more.
            callback, error_callback = self._callback("callback"), self._callback("error_callback")
            put_one = self.submissions.put_one
            for item in items:
                if stop.is_set():
                    return False
                put_one(item[0], time.monotonic_ns())
                r = pool.apply_async(run, (item,), callback=callback, error_callback=error_callback)
                pairs.append((item[0], r))
            return all([self._wait(r, stop, task_id) for task_id, r in pairs])

    def _submit_chunks(self, plan: TaskPlan) -> Any:
        """Hand the plan's chunks to the Pool, or adopt the hand-over ``procviz run`` made as the
        Pool was created (checked to be the plan's own chunks); the API's AsyncResult or iterator."""
        early = self._creation.early
        if early is None:
            self._submitted(plan.order)
            assert self.pool is not None
            return call_chunk_api(self.pool, self.config.api, plan.chunk_runner(), plan.chunk_items)
        if not _is_early_plan(plan, early.plan) or early.api != self.config.api:
            # Never expected (a test checks every kind of run the early path takes): its tasks run
            # already, so the run cannot be made to match; said, not papered over.
            raise RuntimeError("the tasks handed to the Pool early are not the run's plan")
        self.submissions.put(Submitted(plan.order, early.submitted_ns))
        return early.handle

    def _wait(self, result: Any, stop: threading.Event, task_id: int = -1) -> bool:
        """Wait for an AsyncResult, polling ``stop`` and whether the engine gave the task up
        (its result will never come); True only when the result arrived."""
        while not stop.is_set() and task_id not in self.abandoned:
            result.wait(POLL_S)
            if result.ready():
                return True
        return False

    # ---- state and shutdown ---------------------------------------------------------------------

    def results_complete(self) -> bool:
        """Whether every Pool job delivered its result (close+join cannot hang then)."""
        return self._delivered

    def all_results_delivered(self) -> bool:
        """Every task's result came back through the Pool at least Delivery.GRACE_S ago: a task
        with no END event by now lost its events, not its work (the engine ends it as EventsLost)."""
        if self._delivered:
            self._delivery.mark()
        return self._delivery.settled()

    def shutdown(self, graceful: bool) -> None:
        """close()+join() when every result is in; otherwise end the workers first, then the Pool.

        ``Pool.terminate()`` alone can hang: its first step takes the task queue's reader lock,
        which an idle worker holds while it blocks reading, and which a killed worker holds
        forever. So for a Stop (or lost work) the workers get SIGTERM (they flush their events
        and die), SIGKILL after a grace period, and only then is the Pool terminated; if that still
        waits on the dead holder's lock, the lock is released on its behalf.
        """
        self._cancelled.set()
        if self.pool is None:  # creation was cancelled (or failed): end what it started
            self._end_workers()
            forget_observer(self._key)
            return
        try:
            if graceful:
                self.pool.close()
                self.pool.join()
                return
            self._stop_replacing()
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
            for proc in list(self._created.values()):
                if proc._popen is not None:  # started
                    proc.join(0)
            forget_observer(self._key)

    def _stop_replacing(self) -> None:
        """Stop the Pool from replacing the workers about to be ended (what terminate() does first).

        Its maintenance thread is woken the way terminate() wakes it and waited for, not slept
        for: once it has left its loop, a replacement it was creating exists and will be ended too.
        """
        assert self.pool is not None
        handler = getattr(self.pool, "_worker_handler", None)
        if handler is None:
            return
        handler._state = multiprocessing.pool.TERMINATE
        notifier = getattr(self.pool, "_change_notifier", None)
        if notifier is not None:
            notifier.put(None)
        handler.join(MAINTENANCE_JOIN_S)

    def _end_workers(self, grace_s: float = 0.5) -> None:
        procs = [p for p in list(self._created.values()) if p._popen is not None and p.exitcode is None]
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
        """PIDs of every worker this backend started."""
        return [p.pid for p in list(self._created.values()) if p.pid]
