"""Where a run lives (its sockets and its process tree), and the head start of a Pool run.

:class:`RunPlaces` is what must exist before any worker of a run does: the event socket, the
start-up socket beside it, and the run's process tree, told to the guardian. The engine makes one
for every run (:mod:`procviz.engine.runner`).

:class:`HeadStart` is ``procviz run``'s shortcut for a Pool run: right after its arguments are
parsed, before it imports numpy and the engine (~100 ms of imports), it makes the run's places and
begins the Pool's creation, so the spawned workers boot (~120 ms) while the parent imports, not
after. A run whose tasks follow from its config alone has them handed to the Pool as soon as it
exists (:mod:`procviz.engine.backends.pool_submit`): the workers start on them while the parent
still imports, their rows waiting in the event socket until the engine reads them. Everything
here imports the standard library and procviz's numpy-free modules only (a test keeps it so). The
engine then takes the places over, and the run's Pool backend adopts the Pool
(:func:`procviz.engine.backends.pool_creation.take_creation`).

A workload of the ``function`` kind has its module imported in a child (:mod:`procviz.engine.preflight`)
while the Pool's workers boot, importing it too before they take a task, and the Pool gets its tasks
at once, as for the built-in kinds (a user's script maps right after ``Pool()``): its workers start
on them as soon as they are up, the parent still importing. The check's verdict still decides the
run (:meth:`HeadStart.after_imports`): a Pool whose check failed is ended, its workers killed if they
do not end (a module that hangs at import and ignores SIGTERM). A module that fails the check
fails in the workers too, before their first task, so no task of it runs; holding the tasks back
until the verdict cost every function run ~90 ms (the check is a Python process of its own, and
its verdict is taken after numpy's and the engine's imports). With the ``fork`` start method the
Pool is begun only after numpy's import and the check, as before: a worker forked during that
import could inherit its import lock held. Not for scenarios or other backends.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from procviz.engine.channel import EventReceiver
from procviz.engine.config import RunConfig
from procviz.engine.early_sampler import EarlySampler
from procviz.engine.guardian import guardian
from procviz.engine.machine_seed import take_seed
from procviz.engine.preflight import PREFLIGHT_S, ImportCheck, PreflightProblem
from procviz.engine.proctree import RunTree
from procviz.engine.startup_watch import StartupWatch, startup_limit_s
from procviz.engine.thread_files import SAMPLE_PERIOD_S, Reading

if TYPE_CHECKING:
    from procviz.engine.backends.pool_creation import PoolCreation

log = logging.getLogger(__name__)
ABANDON_WAIT_S = 5.0  # at most, for an abandoned head start's Pool to be created (then ended)
END_WAIT_S = 1.0  # at most, for its workers to end on SIGTERM (then SIGKILL)


class RunPlaces:
    """A run's event socket, start-up socket and process tree (the guardian told of it)."""

    def __init__(self, config: RunConfig) -> None:
        self.receiver = EventReceiver()
        try:
            self.startup = StartupWatch(self.receiver.address, startup_limit_s(config))
            # The tree before any worker: it tells the run's own children from those this process had before.
            self.tree = RunTree(self.receiver.address)
        except BaseException:
            self.receiver.close()
            raise
        # Told before any worker exists: a kill -9 from here on still has its processes swept.
        guardian.protect(self.tree.tag)

    def close(self) -> None:
        """Close both sockets (and remove the run's folder)."""
        try:
            self.startup.close()
        finally:
            self.receiver.close()


def wants_head_start(config: RunConfig) -> bool:
    """Whether ``config`` is a Pool run whose workers may start before the engine is imported."""
    return config.backend == "pool" and not config.scenario


class HeadStart:
    """A Pool run begun before the engine exists: its places, its start time, its Pool's creation
    (for a function workload, the check that its module imports first, see :meth:`after_imports`)."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.t0_ns = time.monotonic_ns()  # the run's start: its workers are created from here on
        self.machine_seed = take_seed(self.t0_ns)  # where the machine lane starts (before the imports)
        self.places = RunPlaces(config)
        self.creation: PoolCreation | None = None
        self.sampler: EarlySampler | None = None
        self.check: ImportCheck | None = None
        self.problem: PreflightProblem | None = None  # the check's verdict, once waited for
        self.taken = False  # set by the engine when it takes the run over
        try:
            if config.workload.kind == "function":
                # The user's module is imported in a child (procviz.engine.preflight) while this
                # process imports numpy and the engine, and the Pool's workers boot and take their
                # tasks; a Pool whose check failed is ended (after_imports, then end).
                self.check = ImportCheck(config.workload.function)
                if config.start_method != "fork":
                    self._begin_checked_pool()
            else:
                self._begin_pool()
        except BaseException:
            self._close_places()
            raise

    def _begin_checked_pool(self) -> None:
        """Begin a function workload's Pool while its check runs; not fatal if it cannot be begun
        (no thread to spare, ...): the backend creates the Pool itself and says what fails."""
        try:
            self._begin_pool()
        except Exception:  # noqa: BLE001
            log.debug("no early Pool for this run", exc_info=True)

    def _begin_pool(self) -> None:
        """Begin the Pool's creation, hand it the run's chunks if its config says what they are,
        and read its workers until the engine can. Before numpy's import: the first workers are
        started before it (wait_started), and a worker started during it (a replacement) drops
        the OpenBLAS variable that import sets (procviz.engine.numpy_import) before the
        workload's module is imported."""
        from procviz.engine.backends.pool_creation import begin_creation
        from procviz.engine.backends.pool_submit import early_plan

        # A run whose tasks follow from its config has them handed to the Pool as it is made.
        early = early_plan(self.config)
        self.creation = begin_creation(self.config, self.places.receiver.address, early)
        # Its workers run tasks before the engine samples them: their states are read meanwhile.
        if early is not None:
            self.sampler = EarlySampler(self.creation.started_pids, SAMPLE_PERIOD_S)
            self.sampler.start()

    def after_imports(self, stop: threading.Event | None = None) -> PreflightProblem | None:
        """For a function workload: wait for the import check's verdict (once; ``stop`` abandons
        it) and, with fork, begin the Pool if it passed; the problem, if any (the caller then
        ends the head start, its Pool with it: :meth:`end`)."""
        check, self.check = self.check, None
        if check is not None:
            self.problem = check.wait(PREFLIGHT_S, stop)
            if self.problem is None and self.creation is None:  # fork: begun only now (see the module's docstring)
                self._begin_checked_pool()
        return self.problem

    def wait_started(self) -> None:
        """Wait until the Pool's workers are started: environment changes made after this (numpy's
        import sets one for a moment, see numpy_import) are not seen by them. The rest of the
        Pool's creation (its threads) goes on meanwhile. Not bounded: a creation only starts
        processes (seconds at worst, for 32 spawn workers on a busy machine), and a worker started
        later would inherit that variable (a replacement started during the import drops it
        itself: procviz.engine.worker.startup)."""
        if self.creation is not None:
            self.creation.wait_started()

    def take_readings(self) -> dict[int, list[Reading]]:
        """Stop the early sampler and return its readings by pid (the engine samples from now on)."""
        return self.sampler.stop() if self.sampler is not None else {}

    def abandon(self) -> None:
        """If the engine never took the run: end the Pool's workers and close the places."""
        if not self.taken:
            self.end()

    def end(self) -> None:
        """End the import check, the Pool's workers, and close the places (the run failed or was
        stopped before its backend existed)."""
        self.take_readings()
        if self.check is not None:
            self.check.end()
        creation = self.creation
        if creation is not None:
            creation.cancelled.set()  # a creation still going on ends without handing its chunks over
            pool = None
            if creation.wait(ABANDON_WAIT_S):
                try:
                    pool = creation.result()
                except BaseException:  # noqa: BLE001 - creation failed or was cancelled: its workers only
                    pool = None
            _end_pool(pool, [p for p in list(creation.created.values()) if getattr(p, "_popen", None) is not None])
        self._close_places()

    def _close_places(self) -> None:
        self.places.close()
        guardian.done(self.places.tree.tag)


def _end_pool(pool: Any, procs: list[Any]) -> None:
    """End ``pool`` (None: its creation did not finish) and its worker processes ``procs``:
    ``Pool.terminate`` (SIGTERM, then a join without a limit) on a thread of its own, and SIGKILL
    for the workers still alive after END_WAIT_S (a module that ignores SIGTERM and hangs at
    import, under the check, held ``procviz run`` forever)."""
    ender = None
    if pool is not None:
        ender = threading.Thread(target=_quietly, args=(pool.terminate,), name="procviz-head-end", daemon=True)
        ender.start()
        ender.join(END_WAIT_S)
    else:
        for p in procs:
            _quietly(p.terminate)
        _wait_ended(procs, END_WAIT_S)
    if ender is None or ender.is_alive():
        for p in procs:
            if p.exitcode is None:
                _quietly(p.kill)
        if ender is not None:
            ender.join(ABANDON_WAIT_S)


def _quietly(call: Any) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001 - a process already gone, a pool already ended
        pass


def _wait_ended(procs: list[Any], timeout_s: float) -> None:
    from multiprocessing.connection import wait

    deadline = time.monotonic() + timeout_s
    alive = list(procs)
    while alive and time.monotonic() < deadline:
        try:
            wait([p.sentinel for p in alive], timeout=max(deadline - time.monotonic(), 0.0))
        except (OSError, ValueError):
            return
        alive = [p for p in alive if p.exitcode is None]
