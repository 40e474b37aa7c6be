"""A ``multiprocessing.Pool`` whose workers are observed, and its creation on a thread of its own.

Standard library only (numpy and the engine's records are imported only when a worker exits):
``procviz run`` begins a Pool run's creation before it imports numpy and the engine (see
:mod:`procviz.engine.head_start`), so the spawned workers boot while the parent imports; the
:class:`~procviz.engine.backends.pool.PoolBackend` of the run then adopts the Pool
(:func:`take_creation`) instead of making one. The window, whose process has everything imported
already, makes its Pool the same way, from the backend's own start().
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.pool
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from procviz.engine.backends.pool_submit import EarlyPlan, EarlySubmission, submit_early
from procviz.engine.spawner import in_spawner_thread
from procviz.engine.startup_watch import preload_function
from procviz.engine.worker.process import OBSERVED, register_observer, start_processes_in
from procviz.engine.worker.startup import bootstrap

start_processes_in(in_spawner_thread)  # workers fork from the long-lived spawner thread
log = logging.getLogger(__name__)


class _ExitReporter:
    """Hears of a Pool's worker processes: reports each exit code once, when the Pool joins it
    (and each start to ``on_started``, if given)."""

    def __init__(self, exits: Any, on_started: Callable[[], None] | None = None) -> None:
        self._exits = exits
        self._on_started = on_started

    def on_start(self, proc: Any) -> None:
        """Pass the start on (the worker announces itself)."""
        if self._on_started is not None:
            self._on_started()

    def on_terminate(self, proc: Any) -> None:
        """Nothing to do: the exit is reported at the join."""

    def on_join(self, proc: Any) -> None:
        """Report the exit code, once."""
        code = proc.exitcode
        if code is not None and not getattr(proc, "_procviz_reported", False):
            from procviz.engine.events import WorkerExit  # numpy: not before a worker exits

            proc._procviz_reported = True
            self._exits.put(WorkerExit(proc.pid, code, time.monotonic_ns()))


class CreationCancelled(RuntimeError):
    """A worker was asked for after Stop (or the run's end): the Pool must start no more."""


class ObservedPool(multiprocessing.pool.Pool):
    """A Pool whose worker processes report their exit codes to a queue."""

    def __init__(self, *args: Any, exit_sink_key: int, start_method: str, cancelled: threading.Event,
                 created: dict[int, Any], **kwargs: Any) -> None:
        self._procviz_key = exit_sink_key
        self._procviz_cls = OBSERVED[start_method]
        self._procviz_cancelled = cancelled
        self._procviz_created = created
        super().__init__(*args, **kwargs)

    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # type: ignore[override]  # noqa: N802 - Pool's hook name
        """Create a worker of the observed class (the Pool calls this for every new worker).

        Raising here while the constructor starts workers makes ``Pool.__init__`` end the ones it
        started and give up: that is how a Stop interrupts the creation of a large pool.
        """
        if self._procviz_cancelled.is_set():
            # The Pool's maintenance thread replaces exited workers from a method of Pool itself
            # (its thread runs Pool._handle_workers, so an override of _maintain_pool is never
            # called): after cancel() that thread ends, by SystemExit, the one exception Python's
            # thread hook passes over without a traceback (exactly SystemExit, not a subclass).
            # The constructor's thread gets the exception it ends the started workers on.
            if threading.current_thread() is getattr(self, "_worker_handler", None):
                # What the thread puts as it leaves its loop, skipped by this exit: without it the
                # Pool's task thread waits forever, and so does terminate(), which joins it.
                self._taskqueue.put(None)  # type: ignore[attr-defined]  # Pool's own attribute
                raise SystemExit
            raise CreationCancelled("pool creation cancelled by Stop")
        proc = self._procviz_cls(*args, **kwds)
        proc._procviz_key = self._procviz_key
        self._procviz_created[id(proc)] = proc
        return proc

    def worker_processes(self) -> list[Any]:
        """The Pool's current worker Process objects."""
        return list(getattr(self, "_pool", []))

    def _get_sentinels(self) -> list[Any]:
        """What the Pool's maintenance thread wakes on besides its workers' exits: the change
        notifier alone, not the result pipe.

        CPython's maintenance thread also waits on the result pipe's read end, so while a result
        sits unread it wakes at once, checks every worker and waits again: it spins until the
        result thread has read. Beside a busy engine thread (the GIL) the result thread reads
        late, and in a 1M-task run the spin cost the parent 0.10-0.17 s of CPU, 2-3x a bare
        Pool's (``benchmarks/parent_threads.py``). It has nothing to do on a result: a worker's
        exit (its sentinel), close/terminate and the result cache draining (the Pool's cache
        puts to the change notifier when it empties) wake it anyway.
        """
        return [self._change_notifier._reader]  # type: ignore[attr-defined]  # Pool's own attribute


class PoolCreation:
    """The observed Pool of one run and what its backend shares with it: the exits queue, the
    cancel flag, every worker Process made. :meth:`begin` creates it on a thread of its own."""

    def __init__(self, config: Any, address: str) -> None:
        self.config = config
        self.address = address
        self.exits: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.key = register_observer(_ExitReporter(self.exits, self._one_started))
        self.cancelled = threading.Event()
        self.created: dict[int, Any] = {}  # every worker Process ever made, by id()
        self._pool: ObservedPool | None = None
        self.early: EarlySubmission | None = None  # chunks handed over as the Pool was made (begin)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._started = 0
        # Set once the Pool's first workers are all started (or its creation ended, however): see
        # wait_started. The Pool's own threads are started after them.
        self._workers_started = threading.Event()

    def _one_started(self) -> None:
        self._started += 1  # one thread starts a Pool's first workers, one at a time
        if self._started >= self.config.workers:
            self._workers_started.set()

    def create(self) -> ObservedPool:
        """Create the Pool here and now (on the calling thread)."""
        ctx = multiprocessing.get_context(self.config.start_method)
        return ObservedPool(
            self.config.workers, initializer=bootstrap,
            initargs=(self.address, preload_function(self.config)),
            maxtasksperchild=self.config.maxtasksperchild, context=ctx,
            exit_sink_key=self.key, start_method=self.config.start_method,
            cancelled=self.cancelled, created=self.created,
        )

    def begin(self, early: EarlyPlan | None = None) -> None:
        """Start creating the Pool on a daemon thread; :meth:`result` waits for it. ``early``:
        chunks to hand to the Pool as soon as it exists (:mod:`procviz.engine.backends.pool_submit`),
        unless the creation was cancelled meanwhile."""
        self._thread = threading.Thread(target=self._create_in_thread, args=(early,), name="procviz-pool-create",
                                        daemon=True)
        self._thread.start()

    def _create_in_thread(self, early: EarlyPlan | None) -> None:
        try:
            self._pool = self.create()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the result
            self._error = exc
        finally:
            self._workers_started.set()
        if early is not None and self._pool is not None and not self.cancelled.is_set():
            try:
                self.early = submit_early(self._pool, self.config.api, early)
            except Exception:  # noqa: BLE001 - the backend submits the plan itself then
                log.debug("no early submission", exc_info=True)
                self.early = None

    def started_pids(self) -> list[int]:
        """The pids of the Pool's worker processes started so far (any thread may ask)."""
        return [pid for p in list(self.created.values()) if (pid := p.pid) is not None]

    def wait_started(self) -> None:
        """Wait until every first worker of the Pool begun by :meth:`begin` is started (their
        processes exist, with the environment they were given), or until its creation ended
        (failed, cancelled). The Pool's creation may still go on (its threads start last)."""
        if self._thread is not None:
            self._workers_started.wait()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the creation begun by :meth:`begin` ended; False if it still goes on."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def result(self) -> ObservedPool:
        """The Pool: the one begun by :meth:`begin` (waited for), else created now; raises what
        its creation raised."""
        if self._thread is None:
            return self.create()
        self.wait()
        if self._error is not None:
            raise self._error
        assert self._pool is not None
        return self._pool


_begun: dict[str, PoolCreation] = {}
_begun_lock = threading.Lock()


def begin_creation(config: Any, address: str, early: EarlyPlan | None = None) -> PoolCreation:
    """Begin creating the Pool of the run whose event socket is ``address`` (and hand it ``early``'s
    chunks once it exists); its backend adopts it."""
    creation = PoolCreation(config, address)
    with _begun_lock:
        _begun[address] = creation
    creation.begin(early)
    return creation


def take_creation(config: Any, address: str) -> PoolCreation:
    """The creation begun for the run at ``address`` (once), else a new one not begun yet."""
    with _begun_lock:
        creation = _begun.pop(address, None)
    return creation if creation is not None else PoolCreation(config, address)
