"""The Engine: a thread that runs one configuration on a backend and reports what happened.

Data flow (each arrow is a named record type from :mod:`procviz.engine.events`)::

    Engine.start(config)
        |
        v
    engine thread ---- build_plan(config) ----> TaskPlan
        |  starts backend (Pool, ...)            |
        |  submitter thread: backend.submit() ---+--> Submitted ----------------+
        |                                                                      |
        |   worker processes: worker_init -> WorkerHello                       |
        |                     run_task()   -> packed START/END rows, TaskText  |
        |        \\___ WorkerBatch datagrams (EventSender -> EventReceiver) ___  |
        |                                                                   \\  |
        |   backend's Pool thread: Process.join -> WorkerExit -------------> RunTracker
        |   StateSampler (every 20 ms): schedstat + psutil ----------------->   |
        |                                                                      |
        +<---------------------------- EngineBatch (every loop, <= 20 ms) <----+
        |
        v
    Engine.events (queue.SimpleQueue)  --> GUI: QTimer drains -> Timeline.apply
                                       --> CLI: drains for progress
    Engine.join() -> RunResult (the engine's own Timeline, handed over when the thread ends)

The engine thread is the only writer of its RunTracker; it never blocks on the backend without a
timeout. Stop marks every unfinished task cancelled and terminates the backend; a normal end
drains events first, then close()+join() (terminate() only when some result can never arrive,
e.g. a chunk lost with a killed worker). Whatever happens, every worker PID the run created is
gone when the thread ends (a final SIGKILL sweep of the run's process tree, see proctree.py).

The parts, one job each: :class:`_Run` sets a run up (plan, import check in a child, channel,
the :class:`~procviz.engine.submitter.Submitter` that starts the workers) and turns any failure
into an error result; :class:`~procviz.engine.run_loop.LiveRun` is the loop over a run whose
pieces all exist (imported once the workers are starting, so a small run's imports overlap their
start-up); :mod:`procviz.engine.recovery` ends tasks that timed out or were lost with a worker;
:mod:`procviz.engine.startup_watch` fails a run whose workers cannot start;
:mod:`procviz.engine.reaper` escalates kills and sweeps the process tree at the end.
"""

from __future__ import annotations

import gc
import os
import queue
import socket
import threading
import time
import traceback
from typing import TYPE_CHECKING

from procviz.engine.columns import ArrayColumn
from procviz.engine.config import RunConfig
from procviz.engine.events import EngineBatch, RunInfo, RunOutcome, RunPhase, RunStatus, TaskState
from procviz.engine.guardian import guardian
from procviz.engine.head_start import HeadStart, RunPlaces
from procviz.engine.machine_seed import MachineSeed, take_seed
from procviz.engine.plan import TaskPlan, build_plan
from procviz.engine.proctree import RunTree
from procviz.engine.registry import BACKENDS
from procviz.engine.run_result import RunResult
from procviz.engine.submitter import Submitter
from procviz.engine.worker.clock import SchedstatReader

STOP_JOIN_S = 5.0  # at most, for a cancelled submitter to end before the backend's shutdown
CREATION_WAIT_S = 1.0  # at most, for the first workers to be created before the loop's imports

if TYPE_CHECKING:  # imported by procviz.engine.run_loop once the workers are starting
    from procviz.engine.backends.base import Backend
    from procviz.engine.run_loop import LiveRun
    from procviz.engine.tracker import RunTracker


def make_backend(config: RunConfig, address: str) -> Backend:
    """The backend for ``config.backend``."""
    factory = BACKENDS.get(config.backend)
    if factory is None:
        raise ValueError(f"backend {config.backend!r} is not available in this build")
    return factory(config, address)


class Engine:
    """Runs configurations one at a time on a background thread; see the module docstring."""

    def __init__(self, collect_after_run: bool = True) -> None:
        self.events: queue.SimpleQueue[EngineBatch] = queue.SimpleQueue()
        # A process that ends after its one run (``procviz run``) has no descriptors to release.
        self._collect_after_run = collect_after_run
        self.task_rows = True  # whether batches carry task rows (see RunTracker); set before start()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._run: _Run | None = None  # the run in progress (its submitter is told of a Stop at once)
        self.result: RunResult | None = None

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, config: RunConfig, head: HeadStart | None = None) -> None:
        """Start a run of ``config`` (already validated); returns at once. ``head``: the run's
        head start (made for this config), taken over by the engine."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        self._stop = threading.Event()
        self.result = None
        self._thread = threading.Thread(target=self._main, args=(config, self._stop, head), name="procviz-engine",
                                        daemon=True)
        if head is not None:
            head.taken = True
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the run: unfinished tasks become cancelled, no worker outlives this call."""
        self._stop.set()
        # Submit nothing more, from now: the engine thread would tell the submitter at its next
        # pass, while a busy submitter (a map making its futures) holds the GIL in turns with it.
        run = self._run
        if run is not None and run.submitter is not None:
            run.submitter.stop.set()
        del run  # not kept through the join: the engine thread frees the run's cycles as it ends
        self.join(timeout_s)

    def join(self, timeout_s: float | None = None) -> RunResult | None:
        """Wait for the run to end (at most ``timeout_s``); its result, or None if still running."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return None
        return self.result

    def _main(self, config: RunConfig, stop: threading.Event, head: HeadStart | None) -> None:
        run = self._run = _Run(config, self.events, stop, self.task_rows, head)
        try:
            self.result = run.execute()
        except BaseException as exc:  # noqa: BLE001 - an engine bug becomes a visible error
            self.result = run.fail(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        self._run = None
        del run
        # ProcessPoolExecutor keeps its pipes and worker handles in reference cycles (manager
        # thread, queues): collect them now, so a finished run's descriptors are released when it
        # ends, not whenever the collector next runs (30 runs in a window grew 9 -> 25 fds).
        if self._collect_after_run:
            gc.collect()


class _Run:
    """Sets one run up on the engine thread, hands it to a :class:`~procviz.engine.run_loop.LiveRun`,
    and turns any failure into an error result.

    The workers are asked to start as early as the run allows: right after the plan and the
    channel exist (after the import check in a child, for function workloads). What only a live
    run needs is imported and built while they boot.
    """

    def __init__(self, config: RunConfig, out: queue.SimpleQueue[EngineBatch], stop: threading.Event,
                 task_rows: bool = True, head: HeadStart | None = None) -> None:
        self.config = config
        self.task_rows = task_rows
        self.head = head  # the places and the Pool's creation, begun before the engine was imported
        self.out = out
        self.stop = stop
        self.tracker: RunTracker | None = None  # set once the run is described
        self.backend: Backend | None = None  # set once it exists
        self.submitter: Submitter | None = None  # set once the workers are being started
        self.tree: RunTree | None = None
        self.live: LiveRun | None = None  # set once the loop can run
        self.machine_seed: MachineSeed | None = None  # the machine's counters at the run's start

    def execute(self) -> RunResult:
        """Run to the end and return the result."""
        head = self.head
        t0 = head.t0_ns if head is not None else time.monotonic_ns()
        self.machine_seed = head.machine_seed if head is not None else take_seed(t0)
        try:
            plan = build_plan(self.config)
            if self.config.workload.kind == "function" and not self.config.scenario:
                stopped = self._preflight(t0, plan)  # before this engine asks for any worker
                if stopped is not None:
                    return stopped
        except BaseException:
            if head is not None:  # its workers may exist already, and no backend will end them
                head.end()
            raise
        places = head.places if head is not None else RunPlaces(self.config)
        receiver, startup = places.receiver, places.startup
        try:
            self.tree = places.tree
            self.backend = backend = make_backend(self.config, receiver.address)
            self.submitter = Submitter(backend, plan)
            if self.stop.is_set():  # a Stop before the submitter existed: Engine.stop could not tell it
                self.submitter.stop.set()
            self.submitter.start()
            # Importing takes the GIL for long stretches: done while the workers boot, not while
            # the submitter (and the spawner thread) still create them, which it would slow down.
            self.submitter.wait_created(CREATION_WAIT_S, self.stop)
            from procviz.engine.run_loop import LiveRun

            tracker = self.tracker or self._describe(t0, plan)
            if head is not None:  # what its workers did before this engine could sample them
                tracker.sampler.early = head.take_readings()
            self.live = LiveRun(self.config, self.out, self.stop, tracker, backend, receiver, startup,
                                self.tree, self.submitter)
            return self.live.run()
        finally:
            if head is not None:
                head.take_readings()  # the early sampler stops, whatever happened (idempotent)
            places.close()

    def _describe(self, t0: int, plan: TaskPlan) -> RunTracker:
        """Make the run's tracker and tell the consumers what the run is."""
        from procviz.engine.run_loop import emit, new_tracker

        probe = SchedstatReader()
        schedstat = probe.available
        probe.close()
        run = RunInfo(
            n_tasks=plan.n_tasks, t0_ns=t0, config=self.config.to_json(), host=socket.gethostname(),
            cpu_count=os.cpu_count() or 1, schedstat=schedstat,
            arg_texts=plan.arg_texts(),
            cost_ms=ArrayColumn(plan.cost_ms) if self.config.workload.kind != "function" else (),
            chunks=ArrayColumn(plan.chunks),
        )
        self.tracker = tracker = new_tracker(run, self.machine_seed)
        tracker.task_rows = self.task_rows
        emit(self.out, tracker.cut(t0, RunStatus(RunPhase.STARTING, "starting workers")))
        return tracker

    def _preflight(self, t0: int, plan: TaskPlan) -> RunResult | None:
        """Import the workload's function in a child; the run's end if that fails or is stopped."""
        from procviz.engine import preflight
        from procviz.engine.run_loop import finish

        tracker = self._describe(t0, plan)  # the tasks are shown while the check runs
        # Imported in a child, never here: a module that exits or hangs at import must not
        # take the engine's process (the window's) with it. procviz run began the check early.
        head = self.head
        if head is not None:
            problem = head.after_imports(self.stop)  # the verdict it had, or waited for now
        else:
            problem = preflight.check(self.config.workload.function, preflight.PREFLIGHT_S, stop=self.stop)
        if problem is None:
            return None
        if head is not None:
            head.end()  # its places, the check, and its Pool
        if problem.kind == "Stopped":
            tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, time.monotonic_ns(),
                              "Cancelled", "cancelled by Stop")
            return finish(tracker, self.out, RunOutcome.STOPPED, "stopped by the user")
        # one line: the child's traceback is not ours to show
        return self.fail(str(problem), outcome=RunOutcome.INVALID)

    def fail(self, message: str, detail: str = "", outcome: RunOutcome = RunOutcome.ERROR) -> RunResult:
        """End the run as an error with ``message`` (nothing else is lost: partial data stays)."""
        from procviz.engine.metrics import compute_metrics
        from procviz.engine.run_loop import emit, finish
        from procviz.engine.timeline import Timeline

        self.stop.set()
        if self.live is not None:
            self.live.end_now()
        elif self.submitter is not None:  # workers asked for, no loop yet: end them here
            self._end_early_backend()
        if self.tracker is None:
            tl = Timeline()
            status = RunStatus(RunPhase.FINISHED, message, outcome)
            emit(self.out, EngineBatch(status=status, now_ns=time.monotonic_ns()))
            return RunResult(outcome, message, tl, compute_metrics(tl))
        self.tracker.end_tasks(self.tracker.unfinished(), TaskState.FAILED, time.monotonic_ns(), "RunError", message)
        return finish(self.tracker, self.out, outcome, message + (f"\n{detail}" if detail else ""))

    def _end_early_backend(self) -> None:
        """Cancel and end a backend whose loop never ran, then sweep what it started."""
        assert self.submitter is not None and self.backend is not None and self.tree is not None
        self.submitter.stop.set()
        self.backend.cancel()
        # A Pool being created may appear after cancel(): let its creation end first, so that the
        # shutdown below sees it (bounded: creation gives up once cancelled).
        self.submitter.join(STOP_JOIN_S)
        try:
            self.backend.shutdown(False)
        except Exception:  # noqa: BLE001 - the sweep below finishes the job
            pass
        self.tree.sweep(set(self.backend.worker_pids()))
        guardian.done(self.tree.tag)
