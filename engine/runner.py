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

The parts, one job each: :class:`_Run` sets a run up (plan, import check in a child, channel)
and turns any failure into an error result; :class:`_Live` is the loop over a run whose pieces
all exist; :mod:`procviz.engine.recovery` ends tasks that timed out or were lost with a worker;
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
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from procviz.engine import preflight
from procviz.engine.backends.base import Backend
from procviz.engine.backends.threads import abandon_threads
from procviz.engine.channel import EventReceiver
from procviz.engine.columns import ArrayColumn
from procviz.engine.config import RunConfig
from procviz.engine.events import EngineBatch, LaneKind, RunInfo, RunOutcome, RunPhase, RunStatus, TaskState
from procviz.engine.metrics import Metrics, compute_metrics
from procviz.engine.plan import TaskPlan, build_plan
from procviz.engine.proctree import RunTree
from procviz.engine.reaper import Reaper
from procviz.engine.recovery import enforce_timeouts, name_culprit, recover_lost_work
from procviz.engine.registry import BACKENDS
from procviz.engine.sampler import StateSampler
from procviz.engine.startup_watch import StartupWatch, startup_limit_s
from procviz.engine.timeline import Timeline
from procviz.engine.tracker import RunTracker
from procviz.engine.worker.clock import SchedstatReader

LOOP_S = 0.02
MIN_PASS_S = 0.01
SHUTDOWN_S = 10.0
STOP_SHUTDOWN_S = 3.0


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended, with everything it recorded."""

    outcome: RunOutcome
    message: str
    timeline: Timeline
    metrics: Metrics
    # Worker threads of this process still running a task when the run ended (a thread cannot be
    # killed): a program that wants to exit must leave with os._exit, or wait for them forever.
    hung_threads: tuple[str, ...] = ()


def make_backend(config: RunConfig, address: str) -> Backend:
    """The backend for ``config.backend``."""
    factory = BACKENDS.get(config.backend)
    if factory is None:
        raise ValueError(f"backend {config.backend!r} is not available in this build")
    return factory(config, address)


class Engine:
    """Runs configurations one at a time on a background thread; see the module docstring."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[EngineBatch] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.result: RunResult | None = None

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, config: RunConfig) -> None:
        """Start a run of ``config`` (already validated); returns at once."""
        if self.running:
            raise RuntimeError("a run is already in progress")
        self._stop = threading.Event()
        self.result = None
        self._thread = threading.Thread(target=self._main, args=(config, self._stop), name="procviz-engine",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Cancel the run: unfinished tasks become cancelled, no worker outlives this call."""
        self._stop.set()
        self.join(timeout_s)

    def join(self, timeout_s: float | None = None) -> RunResult | None:
        """Wait for the run to end (at most ``timeout_s``); its result, or None if still running."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return None
        return self.result

    def _main(self, config: RunConfig, stop: threading.Event) -> None:
        run = _Run(config, self.events, stop)
        try:
            self.result = run.execute()
        except BaseException as exc:  # noqa: BLE001 - an engine bug becomes a visible error
            self.result = run.fail(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        del run
        # ProcessPoolExecutor keeps its pipes and worker handles in reference cycles (manager
        # thread, queues): collect them now, so a finished run's descriptors are released when it
        # ends, not whenever the collector next runs (30 runs in a window grew 9 -> 25 fds).
        gc.collect()


class _Run:
    """Sets one run up on the engine thread, hands it to a :class:`_Live`, and turns any failure
    into an error result."""

    def __init__(self, config: RunConfig, out: queue.SimpleQueue[EngineBatch], stop: threading.Event) -> None:
        self.config = config
        self.out = out
        self.stop = stop
        self.tracker: RunTracker | None = None  # set once the run is described
        self.live: _Live | None = None  # set once the backend exists

    def execute(self) -> RunResult:
        """Run to the end and return the result."""
        t0 = time.monotonic_ns()
        plan = build_plan(self.config)
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
        self.tracker = tracker = RunTracker(run, StateSampler(period_s=LOOP_S))
        _emit(self.out, tracker.cut(t0, RunStatus(RunPhase.STARTING, "starting workers")))
        if self.config.workload.kind == "function" and not self.config.scenario:
            # Imported in a child, never here: a module that exits or hangs at import must not
            # take the engine's process (the window's) with it.
            problem = preflight.check(self.config.workload.function, preflight.PREFLIGHT_S, stop=self.stop)
            if problem is not None:
                if problem.kind == "Stopped":
                    tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, time.monotonic_ns(),
                                      "Cancelled", "cancelled by Stop")
                    return _finish(tracker, self.out, RunOutcome.STOPPED, "stopped by the user")
                # one line: the child's traceback is not ours to show
                return self.fail(str(problem), outcome=RunOutcome.INVALID)
        receiver = EventReceiver()
        try:
            startup = StartupWatch(receiver.address, startup_limit_s(self.config))
            try:
                backend = make_backend(self.config, receiver.address)
                self.live = _Live(self.config, self.out, self.stop, tracker, backend, receiver, startup)
                return self.live.run(plan)
            finally:
                startup.close()
        finally:
            receiver.close()

    def fail(self, message: str, detail: str = "", outcome: RunOutcome = RunOutcome.ERROR) -> RunResult:
        """End the run as an error with ``message`` (nothing else is lost: partial data stays)."""
        self.stop.set()
        if self.live is not None:
            self.live.end_now()
        if self.tracker is None:
            tl = Timeline()
            status = RunStatus(RunPhase.FINISHED, message, outcome)
            _emit(self.out, EngineBatch(status=status, now_ns=time.monotonic_ns()))
            return RunResult(outcome, message, tl, compute_metrics(tl))
        self.tracker.end_tasks(self.tracker.unfinished(), TaskState.FAILED, time.monotonic_ns(), "RunError", message)
        return _finish(self.tracker, self.out, outcome, message + (f"\n{detail}" if detail else ""))


class _Live:
    """A run whose tracker, backend and channel exist: the loop, then the shutdown.

    Each loop pass: wait (at most LOOP_S) for datagrams, :meth:`_pass` (take events in, sample,
    apply the rules), then decide whether the run is over (:meth:`_verdict`). Where things plug in:
    how the loop waits is the one ``receiver.wait`` line in :meth:`_loop`; what happens when a
    worker exits is the exit loop at the end of :meth:`_drain`; what happens once at the end of a
    run is :func:`_finish`.
    """

    def __init__(self, config: RunConfig, out: queue.SimpleQueue[EngineBatch], stop: threading.Event,
                 tracker: RunTracker, backend: Backend, receiver: EventReceiver, startup: StartupWatch) -> None:
        self.config = config
        self.out = out
        self.stop = stop
        self.tracker = tracker
        self.backend = backend
        self.receiver = receiver
        self.startup = startup
        # A function of the tracker and backend, not a method: the reaper must not hold this object
        # (a cycle would keep every finished run's processes and pipes until the next gc pass).
        self._worker_pids = partial(_worker_pids, tracker, backend)
        self.reaper = Reaper(RunTree(receiver.address), self._worker_pids)
        self.submit_stop = threading.Event()
        self.submitter = threading.Thread(target=self._submit, name="procviz-submit", daemon=True)
        self.submit_error = ""
        self.hung: list[tuple[int, str]] = []  # (native thread id, description) of thread tasks at Stop
        self._next_sample = 0.0

    # ---- the run --------------------------------------------------------------------------------

    def run(self, plan: TaskPlan) -> RunResult:
        """Submit, loop until the run is over, end the workers, sweep, and report."""
        self._plan = plan
        try:
            self.submitter.start()
            self._emit(self.tracker.cut(time.monotonic_ns(), RunStatus(RunPhase.RUNNING, "running")))
            outcome, message = self._loop()
            if outcome != RunOutcome.STOPPED:
                self._await_submitter(2.0)  # its last result may still be on its way to it
            self._shutdown(graceful=outcome not in (RunOutcome.STOPPED, RunOutcome.ERROR)
                           and self.backend.results_complete())
        finally:
            self.reaper.sweep()
        self.tracker.sampler.close_all(time.monotonic_ns())
        message += self.reaper.swept_text(self._worker_pids())
        hung = self._still_hung()
        if hung:
            message += "; still running (a thread cannot be stopped): " + ", ".join(hung)
        return _finish(self.tracker, self.out, outcome, message, hung)

    def _submit(self) -> None:
        """Submitter thread: create the workers, then submit the way the API does.

        Creating a pool of many spawn workers takes seconds; doing it here keeps the engine
        thread free to notice a Stop (the backend's cancel() makes creation give up).
        """
        try:
            self.backend.start()
            if self.submit_stop.is_set():
                return
            self.backend.submit(self._plan, self.submit_stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the loop as a run error
            self.submit_error = f"{type(exc).__name__}: {exc}"

    def _loop(self) -> tuple[RunOutcome, str]:
        last_wake = 0.0
        while True:
            # At most one pass per MIN_PASS_S: on 2 cores the engine's CPU is taken from the workers,
            # and waking for every datagram of 32 workers would cost more than it shows.
            self.receiver.wait_for_events(min(self._next_sample, time.monotonic() + LOOP_S), last_wake + MIN_PASS_S)
            last_wake = time.monotonic()
            now = time.monotonic_ns()
            self._pass(now)
            verdict = self._verdict(now)
            if verdict is not None:
                return verdict
            recover_lost_work(self.tracker, self.backend, now)
            self._emit(self.tracker.cut(now))

    def _pass(self, now: int) -> None:
        """One pass: events in, a state sample when due, timeouts, kill escalation."""
        self._drain(now)
        if time.monotonic() >= self._next_sample:
            self.tracker.sampler.sample(now)
            self._next_sample = time.monotonic() + LOOP_S
        if self.config.task_timeout_s:
            enforce_timeouts(self.tracker, self.backend, self.reaper, now, self.config.task_timeout_s)
        self.reaper.escalate()
        self.backend.abandon(self.tracker.take_abandoned())  # tasks the engine ended: no result comes

    def _verdict(self, now: int) -> tuple[RunOutcome, str] | None:
        """(outcome, message) when the run is over, else None."""
        tracker = self.tracker
        if self.stop.is_set():
            self._note_hung_threads()
            tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, now, "Cancelled", "cancelled by Stop")
            return RunOutcome.STOPPED, "stopped by the user"
        # A worker that cannot start fails the run even when a broken pool already ended every task.
        failure = self.startup.check(self._worker_pids(), tracker.hello_pids)
        if failure is not None:
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, failure.reason_type, failure.message)
            return RunOutcome.ERROR, failure.message
        if tracker.all_finished():
            return self._outcome()
        if self.submit_error:
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "SubmitError", self.submit_error)
            return RunOutcome.ERROR, f"submitting tasks failed: {self.submit_error}"
        if tracker.unannounced_exits > max(3 * self.config.workers, 6):
            msg = "workers keep exiting before they are ready (do they fail to start?)"
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "WorkerStartFailed", msg)
            return RunOutcome.ERROR, msg
        return None

    def _outcome(self) -> tuple[RunOutcome, str]:
        counts = self.tracker.timeline.state_counts()
        bad = counts[TaskState.FAILED] + counts[TaskState.TIMEOUT]
        if bad:
            return RunOutcome.FAILED, f"{bad} of {self.tracker.timeline.n_tasks} tasks failed or timed out"
        return RunOutcome.COMPLETED, f"all {self.tracker.timeline.n_tasks} tasks done"

    def _drain(self, now: int) -> None:
        """Take in everything waiting: worker datagrams first, then submissions, callbacks, exits.

        Datagrams come first so that a worker's last events are in before its exit is handled:
        a process observed dead has finished every sendto it made.
        """
        tracker, backend = self.tracker, self.backend
        # Verdicts before exits: a backend puts a verdict after the exit that caused it, so one
        # taken here never overtakes its exit (whose running task keeps its "worker died" text).
        verdicts = _take_all(backend.verdicts)
        exits = _take_all(backend.exits)
        exits.extend(tracker.kernel_exits())  # exits as the kernel reported them (engine/exit_watch.py)
        self.startup.receive()  # a start-up failure is reported before the exit it causes
        for batch in self.receiver.receive_all():
            tracker.on_worker_batch(batch, now)
        tracker.settle(now)
        for sub in _take_all(backend.submissions):
            tracker.on_submitted(sub)
        for cb in _take_all(backend.callbacks):
            tracker.on_callback(cb)
        for ex in exits:
            self.startup.on_exit(ex, ready=ex.pid in tracker.hello_pids)
            tracker.on_exit(ex)
            name_culprit(tracker, ex, self.receiver.address)  # a death before its task's START left
            self.reaper.exited(ex.pid)
        for v in verdicts:
            tracker.end_tasks(np.asarray(v.task_ids, dtype=np.int64), TaskState.FAILED, v.t_ns, v.reason_type, v.reason)

    # ---- threads that cannot be stopped ---------------------------------------------------------

    def _note_hung_threads(self) -> None:
        """At Stop: the thread lanes still running a task (they may never return)."""
        if self.backend.worker_kind != LaneKind.THREAD:
            return
        tl = self.tracker.timeline
        for lane, task in self.tracker.running.items():
            info = tl.lanes[lane]
            self.hung.append((info.tid, f"thread {info.name or info.tid} (tid {info.tid}) in task {task}"))

    def _still_hung(self) -> tuple[str, ...]:
        """The hung threads still running; abandoned, so that this process can still exit."""
        alive = {t.native_id for t in threading.enumerate()}
        still = [(tid, text) for tid, text in self.hung if tid in alive]
        abandon_threads({tid for tid, _ in still})
        return tuple(text for _, text in still)

    # ---- the end --------------------------------------------------------------------------------

    def _await_submitter(self, timeout_s: float) -> None:
        """Let the submitter thread finish on its own, draining events meanwhile."""
        deadline = time.monotonic() + timeout_s
        while self.submitter.is_alive() and time.monotonic() < deadline:
            if self.stop.is_set():
                return
            self.receiver.wait(LOOP_S)
            self._drain(time.monotonic_ns())

    def _shutdown(self, graceful: bool) -> None:
        """End the backend on a helper thread while this thread keeps draining events."""
        self.submit_stop.set()
        if not graceful:
            self.backend.cancel()
        if self.submitter.ident is not None:
            self.submitter.join(2.0)
        self.reaper.snapshot()  # the tasks' children, before their workers end and orphan them
        self._emit(self.tracker.cut(time.monotonic_ns(), RunStatus(RunPhase.STOPPING, "ending workers")))
        ender = threading.Thread(target=self._end_backend, args=(graceful,), name="procviz-shutdown", daemon=True)
        ender.start()
        deadline = time.monotonic() + (SHUTDOWN_S if graceful else STOP_SHUTDOWN_S)
        while ender.is_alive() and time.monotonic() < deadline and not (graceful and self.stop.is_set()):
            self.receiver.wait(LOOP_S)
            self._drain(time.monotonic_ns())
            self._emit(self.tracker.cut(time.monotonic_ns()))
        if ender.is_alive() and graceful:
            # close()+join() did not finish: fall back to terminate (and the SIGKILL sweep).
            threading.Thread(target=self._end_backend, args=(False,), daemon=True).start()
        self.reaper.sweep()
        ender.join(2.0)
        self._drain(time.monotonic_ns())  # what the ended workers sent is in the socket already

    def _end_backend(self, graceful: bool) -> None:
        try:
            self.backend.shutdown(graceful)
        except Exception:  # noqa: BLE001 - the SIGKILL sweep finishes the job
            pass

    def end_now(self) -> None:
        """An engine error: end the backend and sweep, without waiting for anything."""
        self.submit_stop.set()
        self._end_backend(False)
        self.reaper.sweep()

    def _emit(self, batch: EngineBatch | None) -> None:
        _emit(self.out, batch)


def _worker_pids(tracker: RunTracker, backend: Backend) -> set[int]:
    """Every worker process of the run: announced ones and those the backend started."""
    pids: set[int] = set(tracker.hello_pids)
    try:
        pids.update(backend.worker_pids())
    except Exception:  # noqa: BLE001 - best effort; hellos name the workers too
        pass
    pids.discard(os.getpid())
    return pids


def _finish(tracker: RunTracker, out: queue.SimpleQueue[EngineBatch], outcome: RunOutcome, message: str,
            hung: tuple[str, ...] = ()) -> RunResult:
    """Close the lanes never seen to exit, send the final status, and make the result."""
    now = time.monotonic_ns()
    for info in list(tracker.timeline.lanes):
        if info.exit_ns < 0:  # threads, swept workers
            tracker.set_lane(replace(info, exit_ns=now, exit_reason=info.exit_reason or "ended with the run"))
    if tracker.lost_batches:
        message += f" ({tracker.lost_batches} event batches were lost)"
    _emit(out, tracker.cut(now, RunStatus(RunPhase.FINISHED, message, outcome)))
    return RunResult(outcome, message, tracker.timeline, compute_metrics(tracker.timeline), hung)


def _take_all(q: queue.SimpleQueue) -> list:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def _emit(out: queue.SimpleQueue[EngineBatch], batch: EngineBatch | None) -> None:
    if batch is not None:
        out.put(batch)
