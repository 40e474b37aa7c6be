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
gone when the thread ends (a final SIGKILL sweep).
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np
import psutil

from procviz.engine.backends.base import Backend
from procviz.engine.channel import EventReceiver
from procviz.engine.clock import SchedstatReader
from procviz.engine.config import RunConfig
from procviz.engine.events import EngineBatch, RunInfo, RunOutcome, RunPhase, RunStatus, TaskState
from procviz.engine.metrics import Metrics, compute_metrics
from procviz.engine.plan import TaskPlan, build_plan
from procviz.engine.registry import BACKENDS
from procviz.engine.sampler import StateSampler
from procviz.engine.timeline import Timeline
from procviz.engine.tracker import RunTracker
from procviz.engine.workloads import resolve

LOOP_S = 0.02
MIN_PASS_S = 0.01
STALL_S = 2.0  # no progress for this long after a worker death: its unstarted work is lost
SHUTDOWN_S = 10.0
KILL_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended, with everything it recorded."""

    outcome: RunOutcome
    message: str
    timeline: Timeline
    metrics: Metrics


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


class _Run:
    """One run's lifetime on the engine thread."""

    def __init__(self, config: RunConfig, out: queue.SimpleQueue[EngineBatch], stop: threading.Event) -> None:
        self.config = config
        self.out = out
        self.stop = stop
        self.submit_stop = threading.Event()
        self.tracker: RunTracker | None = None
        self.backend: Backend | None = None
        self.receiver: EventReceiver | None = None
        self.submitter: threading.Thread | None = None
        self.submit_error: str = ""
        self.killing: dict[int, float] = {}  # pid -> when SIGTERM was sent (for escalation)

    # ---- lifecycle ------------------------------------------------------------------------------

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
            arg_texts=plan.arg_texts,
            cost_ms=tuple(plan.cost_ms.tolist()) if self.config.workload.kind != "function" else (),
            chunks=tuple(plan.chunks.tolist()),
        )
        sampler = StateSampler(period_s=LOOP_S)
        self.tracker = tracker = RunTracker(run, sampler)
        self._emit(tracker.cut(t0, RunStatus(RunPhase.STARTING, "starting workers")))
        if self.config.workload.kind == "function":
            try:
                resolve(self.config.workload.function)
            except Exception as exc:  # noqa: BLE001 - a bad function is a run error, shown with its reason
                return self.fail(f"cannot import {self.config.workload.function}: {type(exc).__name__}: {exc}",
                                 outcome=RunOutcome.INVALID)
        self.receiver = EventReceiver()
        try:
            self.backend = make_backend(self.config, self.receiver.address)
            self.submitter = threading.Thread(target=self._submit, args=(plan,), name="procviz-submit", daemon=True)
            self.submitter.start()
            self._emit(tracker.cut(time.monotonic_ns(), RunStatus(RunPhase.RUNNING, "running")))
            outcome, message = self._loop(plan)
            if outcome != "stopped":
                self._await_submitter(2.0)  # its last result may still be on its way to it
            self._shutdown(graceful=outcome != "stopped" and self.backend.results_complete())
        finally:
            self._sweep()
            self.receiver.close()
        tracker.sampler.close_all(time.monotonic_ns())
        return self._finish(outcome, message)

    def _submit(self, plan: TaskPlan) -> None:
        """Submitter thread: create the workers, then submit the way the API does.

        Creating a pool of many spawn workers takes seconds; doing it here keeps the engine
        thread free to notice a Stop (the backend's cancel() makes creation give up).
        """
        try:
            assert self.backend is not None
            self.backend.start()
            if self.submit_stop.is_set():
                return
            self.backend.submit(plan, self.submit_stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the loop as a run error
            self.submit_error = f"{type(exc).__name__}: {exc}"

    def _loop(self, plan: TaskPlan) -> tuple[RunOutcome, str]:
        tracker, backend, receiver = self.tracker, self.backend, self.receiver
        assert tracker is not None and backend is not None and receiver is not None
        next_sample = time.monotonic()
        timeout_ns = int(self.config.task_timeout_s * 1e9) if self.config.task_timeout_s else 0
        last_wake = 0.0
        while True:
            # At most one pass per MIN_PASS_S: on 2 cores the engine's CPU is taken from the workers,
            # and waking for every datagram of 32 workers would cost more than it shows.
            idle = MIN_PASS_S - (time.monotonic() - last_wake)
            if idle > 0:
                time.sleep(idle)
            receiver.wait(max(0.0, min(next_sample - time.monotonic(), LOOP_S)))
            last_wake = time.monotonic()
            now = time.monotonic_ns()
            self._drain(now)
            if time.monotonic() >= next_sample:
                tracker.sampler.sample(now)
                next_sample = time.monotonic() + LOOP_S
            if timeout_ns:
                self._enforce_timeouts(now, timeout_ns)
            self._escalate_kills()
            self._publish_abandoned()
            if self.stop.is_set():
                tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, now, "Cancelled", "cancelled by Stop")
                return RunOutcome.STOPPED, "stopped by the user"
            if tracker.all_finished():
                return self._outcome()
            if self.submit_error:
                tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "SubmitError", self.submit_error)
                return RunOutcome.ERROR, f"submitting tasks failed: {self.submit_error}"
            if tracker.unannounced_exits > max(3 * self.config.workers, 6):
                msg = "workers keep exiting before they are ready (do they fail to start?)"
                tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "WorkerStartFailed", msg)
                return RunOutcome.ERROR, msg
            self._recover_lost_work(now)
            self._emit(tracker.cut(now))

    def _recover_lost_work(self, now: int) -> None:
        """End tasks that can never finish, which would otherwise keep the run open forever.

        * After a worker died abnormally, queued tasks may have gone down with it unseen (its START
          was still buffered when it died, or a chunk it took had not started). Once nothing runs,
          a live worker is idle and nothing moved for STALL_S, the queued tasks will never run:
          a Pool hands queued work to idle workers at once.
        * When the backend delivered every result but some task's events never arrived (a lost
          datagram), the task is over: end it with that reason.
        """
        tracker, backend = self.tracker, self.backend
        assert tracker is not None and backend is not None
        quiet_ns = now - tracker.quiet_since_ns()
        if (tracker.abnormal_deaths and not tracker.running and tracker.live_workers()
                and quiet_ns > STALL_S * 1e9):
            queued = tracker.unfinished()
            queued = queued[tracker.timeline.state[queued] == TaskState.QUEUED]
            tracker.end_tasks(queued, TaskState.FAILED, now, "LostWithWorker",
                              "lost: a worker died before reporting this task; it may have crashed "
                              "that worker or gone down with it")
        if backend.all_results_delivered() and quiet_ns > 1e9:
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "EventsLost",
                              "the backend delivered its result, but this task's events never arrived")

    def _publish_abandoned(self) -> None:
        """Tell the backend which tasks the engine ended itself (their results never come)."""
        tracker, backend = self.tracker, self.backend
        assert tracker is not None and backend is not None
        backend.abandon(tracker.take_abandoned())

    def _await_submitter(self, timeout_s: float) -> None:
        """Let the submitter thread finish on its own, draining events meanwhile."""
        deadline = time.monotonic() + timeout_s
        while self.submitter is not None and self.submitter.is_alive() and time.monotonic() < deadline:
            if self.stop.is_set():
                return
            self.receiver.wait(LOOP_S)  # type: ignore[union-attr]
            self._drain(time.monotonic_ns())

    def _outcome(self) -> tuple[RunOutcome, str]:
        assert self.tracker is not None
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
        tracker, backend, receiver = self.tracker, self.backend, self.receiver
        assert tracker is not None and backend is not None and receiver is not None
        # Verdicts before exits: a backend puts a verdict after the exit that caused it, so one
        # taken here never overtakes its exit (whose running task keeps its "worker died" text).
        verdicts = []
        while True:
            try:
                verdicts.append(backend.verdicts.get_nowait())
            except queue.Empty:
                break
        exits = []
        while True:
            try:
                exits.append(backend.exits.get_nowait())
            except queue.Empty:
                break
        exits.extend(tracker.kernel_exits())  # exits as the kernel reported them (engine/exit_watch.py)
        for batch in receiver.receive_all():
            tracker.on_worker_batch(batch, now)
        tracker.settle(now)
        while True:
            try:
                tracker.on_submitted(backend.submissions.get_nowait())
            except queue.Empty:
                break
        while True:
            try:
                tracker.on_callback(backend.callbacks.get_nowait())
            except queue.Empty:
                break
        for ex in exits:
            tracker.on_exit(ex)
            self.killing.pop(ex.pid, None)
        for v in verdicts:
            tracker.end_tasks(np.asarray(v.task_ids, dtype=np.int64), TaskState.FAILED, v.t_ns, v.reason_type, v.reason)

    def _enforce_timeouts(self, now: int, timeout_ns: int) -> None:
        tracker = self.tracker
        assert tracker is not None
        tl = tracker.timeline
        for lane, task in list(tracker.running.items()):
            if now - tl.start_ns[task] > timeout_ns:
                pid = tl.lanes[lane].pid
                own = pid == os.getpid()  # a thread of this process: never terminate ourselves
                tracker.end_tasks(np.array([task]), TaskState.TIMEOUT, now, "Timeout",
                                  f"ran longer than task_timeout_s={self.config.task_timeout_s:g}; "
                                  + ("a thread cannot be stopped: it runs on" if own
                                     else f"worker pid {pid} was terminated"))
                if own:
                    continue
                if self.backend is not None and self.backend.worker_kind == "process":
                    tracker.lose_chunk(task, pid, "was terminated after a timeout", now)
                self._kill(pid, signal.SIGTERM)

    def _kill(self, pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if sig == signal.SIGTERM:
            self.killing.setdefault(pid, time.monotonic())

    def _escalate_kills(self) -> None:
        for pid, since in list(self.killing.items()):
            if time.monotonic() - since > KILL_GRACE_S:
                self._kill(pid, signal.SIGKILL)
                del self.killing[pid]

    def _shutdown(self, graceful: bool) -> None:
        """End the backend on a helper thread while this thread keeps draining events."""
        assert self.backend is not None and self.tracker is not None
        self.submit_stop.set()
        if not graceful:
            self.backend.cancel()
        if self.submitter is not None:
            self.submitter.join(2.0)
        self._descendants = self._worker_descendants()
        self._emit(self.tracker.cut(time.monotonic_ns(), RunStatus(RunPhase.STOPPING, "ending workers")))
        ender = threading.Thread(target=self._end_backend, args=(graceful,), name="procviz-shutdown", daemon=True)
        ender.start()
        deadline = time.monotonic() + (SHUTDOWN_S if graceful else 3.0)
        while ender.is_alive() and time.monotonic() < deadline and not (graceful and self.stop.is_set()):
            self.receiver.wait(LOOP_S)  # type: ignore[union-attr]
            self._drain(time.monotonic_ns())
            self._emit(self.tracker.cut(time.monotonic_ns()))
        if ender.is_alive() and graceful:
            # close()+join() did not finish: fall back to terminate (and the SIGKILL sweep).
            threading.Thread(target=self._end_backend, args=(False,), daemon=True).start()
        self._sweep()
        ender.join(2.0)
        time.sleep(0.05)
        self._drain(time.monotonic_ns())

    def _end_backend(self, graceful: bool) -> None:
        try:
            assert self.backend is not None
            self.backend.shutdown(graceful)
        except Exception:  # noqa: BLE001 - the SIGKILL sweep finishes the job
            pass

    def _worker_pids(self) -> set[int]:
        pids: set[int] = set()
        if self.backend is not None:
            try:
                pids.update(self.backend.worker_pids())
            except Exception:  # noqa: BLE001 - best effort; hellos name the workers too
                pass
        if self.tracker is not None:
            pids.update(self.tracker.hello_pids)
        pids.discard(os.getpid())
        return pids

    def _worker_descendants(self) -> list[psutil.Process]:
        """Processes the tasks started (taken before the workers end: then they are orphaned)."""
        found: list[psutil.Process] = []
        for pid in self._worker_pids():
            try:
                found.extend(psutil.Process(pid).children(recursive=True))
            except psutil.Error:
                pass
        return found

    def _sweep(self) -> None:
        """SIGKILL any worker of this run that is still alive, and whatever its tasks started:
        no process of the run outlives the engine."""
        me = os.getpid()
        doomed = list(getattr(self, "_descendants", []))
        for pid in self._worker_pids():
            try:
                proc = psutil.Process(pid)
                # ours: a child (spawn, fork) or a grandchild through the forkserver
                ours = me in {p.pid for p in proc.parents()}
                if ours and proc.status() != psutil.STATUS_ZOMBIE:
                    doomed.extend(proc.children(recursive=True))
                    doomed.append(proc)
            except psutil.Error:
                pass
        for proc in doomed:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    proc.kill()
            except psutil.Error:
                pass

    def _finish(self, outcome: RunOutcome, message: str) -> RunResult:
        tracker = self.tracker
        assert tracker is not None
        now = time.monotonic_ns()
        self._close_lanes(now)
        if tracker.lost_batches:
            message += f" ({tracker.lost_batches} event batches were lost)"
        status = RunStatus(RunPhase.FINISHED, message, outcome)
        self._emit(tracker.cut(now, status))
        return RunResult(outcome, message, tracker.timeline, compute_metrics(tracker.timeline))

    def _close_lanes(self, now: int) -> None:
        """Lanes whose exit was never observed (threads, swept workers) end now."""
        from dataclasses import replace

        tracker = self.tracker
        assert tracker is not None
        for info in list(tracker.timeline.lanes):
            if info.exit_ns < 0:
                tracker.set_lane(replace(info, exit_ns=now, exit_reason=info.exit_reason or "ended with the run"))

    def fail(self, message: str, detail: str = "", outcome: RunOutcome = RunOutcome.ERROR) -> RunResult:
        """End the run as an error with ``message`` (nothing else is lost: partial data stays)."""
        self.stop.set()
        self.submit_stop.set()
        if self.backend is not None:
            self._end_backend(False)
            self._sweep()
        tracker = self.tracker
        if tracker is None:
            tl = Timeline()
            status = RunStatus(RunPhase.FINISHED, message, outcome)
            self._emit(EngineBatch(status=status, now_ns=time.monotonic_ns()))
            return RunResult(outcome, message, tl, compute_metrics(tl))
        now = time.monotonic_ns()
        tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "RunError", message)
        return self._finish(outcome, message + (f"\n{detail}" if detail else ""))

    def _emit(self, batch: EngineBatch | None) -> None:
        if batch is not None:
            self.out.put(batch)
