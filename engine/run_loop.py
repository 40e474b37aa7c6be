"""A run once its pieces exist: the engine loop over a live run, its shutdown, and its result.

Split from :mod:`procviz.engine.runner` so that what only a live run needs (the tracker and its
sampler, the reaper) is imported after the workers were asked to start: on a small run, those
imports are done while the spawned workers boot, not before. The metrics, needed only once the
run is over, are imported while the workers exit (:meth:`LiveRun._shutdown`).

Each loop pass: wait (at most LOOP_S) for datagrams, :meth:`LiveRun._pass` (take events in, sample,
apply the rules; the workers' rows are folded in every FOLD_S, see there), then decide whether the
run is over (:meth:`LiveRun._verdict`). Where things plug
in: how the loop waits is the one ``receiver.wait_for_events`` line in :meth:`LiveRun._loop`; what
happens when a worker exits is the exit loop at the end of :meth:`LiveRun._drain`; what happens once
at the end of a run is :func:`finish`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from procviz.engine.backends.base import Backend
from procviz.engine.channel import EventReceiver
from procviz.engine.config import RunConfig
from procviz.engine.events import EngineBatch, LaneKind, RunInfo, RunOutcome, RunPhase, RunStatus, TaskState
from procviz.engine.guardian_proc import stat_of
from procviz.engine.machine_seed import MachineSeed
from procviz.engine.proctree import RunTree
from procviz.engine.reaper import Reaper
from procviz.engine.recovery import (
    enforce_timeouts,
    explain_textless_failures,
    recover_lost_work,
    spare_finished,
    start_silent_tasks,
    take_ended_from_ring,
)
from procviz.engine.run_result import RunResult
from procviz.engine.sampler import StateSampler
from procviz.engine.startup_watch import StartupWatch
from procviz.engine.submitter import Submitter
from procviz.engine.thread_files import SAMPLE_PERIOD_S
from procviz.engine.timeline import TASK_BLOCK
from procviz.engine.tracker import RunTracker

LOOP_S = SAMPLE_PERIOD_S  # a pass at least this often: the sampler's period
SHUTDOWN_POLL_S = 0.002  # how soon the end of the backend's shutdown (or the submitter) is noticed
SHUTDOWN_S = 10.0
STOP_SHUTDOWN_S = 3.0
STOP_FLUSH_S = 2.0  # at Stop, how long the last STARTs of a thread pool may take to be sent (never more)
SUMS_S = 0.25  # how often a big run's ended blocks are summed ahead (LiveRun._sum_ahead)
SLOT_CHECK_NS = 100_000_000  # with a time limit, idle workers' slots are read at most this often (start_silent_tasks)
# While tasks are handed out, worker rows are folded into the tracker every FOLD_S, not every pass:
# a fold costs ~0.1-0.25 ms of CPU however few rows it takes (numpy's per-call cost, ~40 calls),
# and at a pass per tick most folds take a few dozen rows. Datagrams are still received every pass
# (a Unix datagram socket queues only net.unix.max_dgram_qlen of them, 10 by default, before the
# workers' sendto blocks). Rows are folded at once whenever a decision needs them (see _fold_due),
# and once FOLD_BYTES of them wait: then the fold's cost is the rows', not the call's, and a bigger
# fold only holds the GIL longer (and a Pool's worker handler spins while its results wait).
FOLD_S = 0.06
FOLD_BYTES = 64 * 1024  # ~1400 rows


def new_tracker(run: RunInfo, machine_seed: MachineSeed | None = None) -> RunTracker:
    """The tracker of a run described by ``run``, sampling worker states every LOOP_S (and the
    machine from ``machine_seed``, its counters at the run's start, if read)."""
    return RunTracker(run, StateSampler(period_s=LOOP_S, machine_seed=machine_seed))


class LiveRun:
    """A run whose tracker, backend and channel exist: the loop, then the shutdown (see the
    module docstring for where things plug in)."""

    def __init__(self, config: RunConfig, out: queue.SimpleQueue[EngineBatch], stop: threading.Event,
                 tracker: RunTracker, backend: Backend, receiver: EventReceiver, startup: StartupWatch,
                 tree: RunTree, submitter: Submitter) -> None:
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
        self.reaper = Reaper(tree, self._worker_pids, found=tracker.sampler.adopt)
        self.submitter = submitter  # already started: the workers boot while the engine sets up
        self.hung: list[tuple[int, str]] = []  # (native thread id, description) of thread tasks at Stop
        self._next_sample = 0.0
        self._next_sums = 0.0
        self._next_fold = 0
        self._next_slot_check = 0  # with a time limit: when the idle workers' slots are read next
        self._ended = False  # set once the backend ended and the sweep after it ran
        self._held: list[int] = []  # workers that did not exit after their tasks (see _shutdown)

    # ---- the run --------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Loop until the run is over, end the workers, sweep, and report."""
        try:
            self._emit(self.tracker.cut(time.monotonic_ns(), RunStatus(RunPhase.RUNNING, "running")))
            outcome, message = self._loop()
            # Its last result may still be on its way to it; unless the engine ended some task
            # itself (a timeout, a death, lost work): its result never comes, and a map waits on
            # them all (2 s waited for nothing after each worker death).
            if outcome != RunOutcome.STOPPED and not self.backend.abandoned:
                self._await_submitter(2.0)
            self._shutdown(graceful=outcome not in (RunOutcome.STOPPED, RunOutcome.ERROR)
                           and self.backend.results_complete())
        finally:
            if not self._ended:  # _shutdown swept after the backend ended: nothing new since
                self.reaper.sweep()
        ended_ns = time.monotonic_ns()  # the strips end here, and so do the lanes still open (finish)
        self.tracker.sampler.close_all(ended_ns)
        if self._held:
            pids = ", ".join(f"pid {pid}" for pid in self._held)
            message += (f"; worker{'s' if len(self._held) > 1 else ''} {pids} did not exit {SHUTDOWN_S:g} s after "
                        "the last task (a thread or process the tasks started kept them alive): terminated")
        message += self.reaper.swept_text(self._worker_pids())
        hung = self._still_hung()
        if hung:
            message += "; still running (a thread cannot be stopped): " + ", ".join(hung)
        return finish(self.tracker, self.out, outcome, message, hung, ended_ns)

    def _loop(self) -> tuple[RunOutcome, str]:
        while True:
            # While tasks are handed out, one pass per sampling tick, whatever comes meanwhile: a pass
            # costs ~0.3-0.5 ms of CPU however little it takes in, and on 2 cores that CPU is the
            # workers' (a pass per worker datagram, each worker flushing every 10 ms, would double the
            # passes). Once every result is back (the submitter ended), the last events are what the
            # run waits for: they are taken in as they arrive (the submitter's end wakes the wait).
            tick = min(self._next_sample, time.monotonic() + LOOP_S)
            ended = self.submitter.ended
            self.receiver.wait_for_events(tick, 0.0 if ended.is_set() else tick, ended)
            now = time.monotonic_ns()
            folded = self._pass(now)
            verdict = self._verdict(now)
            if verdict is not None:
                return verdict
            recover_lost_work(self.tracker, self.backend, now)
            if folded:  # a batch when rows came in: the sampler's intervals wait for it (see FOLD_S)
                self._emit(self.tracker.cut(now))
            self._sum_ahead()

    def _sum_ahead(self) -> None:
        """Now and then in a big run, the metrics' sums of the blocks of tasks that have all ended
        (:func:`~procviz.engine.metrics.sum_ended_blocks`): what :func:`finish` would otherwise
        sum at the end, alone, while both CPUs idle (~75 ms at a million no-op tasks)."""
        tl = self.tracker.timeline
        if tl.n_tasks < TASK_BLOCK or time.monotonic() < self._next_sums:
            return  # a small run: nothing to spread, and the metrics stay unimported until its end
        from procviz.engine.metrics import sum_ended_blocks

        sum_ended_blocks(tl)
        self._next_sums = time.monotonic() + SUMS_S

    def _pass(self, now: int) -> bool:
        """One pass: events in, a state sample when due, timeouts, kill escalation. True if the
        worker rows were folded in (see FOLD_S)."""
        folded = self._drain(now, fold=self._fold_due(now))
        if time.monotonic() >= self._next_sample:
            self.tracker.sampler.sample(now)
            self._next_sample = time.monotonic() + LOOP_S
        if self.config.task_timeout_s:
            enforce_timeouts(self.tracker, self.backend, self.reaper, now, self.config.task_timeout_s)
            if now >= self._next_slot_check:  # a quarter of the limit late at most, a read per worker
                start_silent_tasks(self.tracker, self.backend, now, self.config.task_timeout_s)
                self._next_slot_check = now + max(int(self.config.task_timeout_s * 0.25e9), SLOT_CHECK_NS)
        # At a Stop, no tree scan here: the shutdown makes one, and a scan under a busy parent's
        # GIL (each /proc read hands it over) took 1.7-2.8 s that the Stop waited for.
        self.reaper.escalate(scan=not self.stop.is_set())
        self.backend.abandon(self.tracker.take_abandoned())  # tasks the engine ended: no result comes
        return folded

    def _fold_due(self, now: int) -> bool:
        """Whether this pass folds the worker rows in (else they wait for a later pass, see FOLD_S):
        when FOLD_S passed, and whenever the run's state must be up to date: its last events are
        coming (every result is back), a Stop, a task timeout to enforce (a task that ended in
        time must not look still running). :meth:`_drain` folds before exits and verdicts and
        once FOLD_BYTES wait, :meth:`RunTracker.end_tasks` before the engine ends tasks."""
        return (now >= self._next_fold or self.submitter.ended.is_set() or self.stop.is_set()
                or bool(self.config.task_timeout_s))

    def _verdict(self, now: int) -> tuple[RunOutcome, str] | None:
        """(outcome, message) when the run is over, else None."""
        tracker = self.tracker
        if self.stop.is_set():
            self.submitter.stop.set()  # at once: a map still making its futures stops making them
            now = self._note_hung_threads(now)
            tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, now, "Cancelled", "cancelled by Stop")
            return RunOutcome.STOPPED, "stopped by the user"
        # A worker that cannot start fails the run even when a broken pool already ended every task.
        failure = self.startup.check(self._worker_pids(), tracker.hello_pids)
        if failure is not None and self.backend.start_failures_matter():
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, failure.reason_type, failure.message)
            return RunOutcome.ERROR, failure.message
        if tracker.all_finished():
            return self._outcome()
        if self.submitter.error:
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "SubmitError", self.submitter.error)
            return RunOutcome.ERROR, f"submitting tasks failed: {self.submitter.error}"
        if tracker.unannounced_exits > max(3 * self.config.workers, 6) and self.backend.start_failures_matter():
            msg = "workers keep exiting before they are ready (do they fail to start?)"
            tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "WorkerStartFailed", msg)
            return RunOutcome.ERROR, msg
        return None

    def _outcome(self) -> tuple[RunOutcome, str]:
        tl = self.tracker.timeline
        counts = tl.state_counts()
        bad = counts[TaskState.FAILED] + counts[TaskState.TIMEOUT]
        if bad:
            said = f"{bad} of {tl.n_tasks} tasks failed or timed out"
            main = tl.texts.get(0) if self.config.scenario and tl.state[0] == TaskState.FAILED else None
            if main is not None and main.kind == "error":  # what the main program gave up on, first
                first = (main.message.strip().splitlines() or [""])[0]
                said = f"the main program failed ({main.type_name}: {first}); " + said
            return RunOutcome.FAILED, said
        return RunOutcome.COMPLETED, f"all {self.tracker.timeline.n_tasks} tasks done"

    def _drain(self, now: int, fold: bool = True) -> bool:
        """Take in everything waiting: worker datagrams first, then submissions, callbacks, exits.

        Datagrams come first so that a worker's last events are in before its exit is handled:
        a process observed dead has finished every sendto it made. Their rows are folded in when
        ``fold`` or an exit or verdict is to be handled (else at a later pass: see FOLD_S); True
        if they were.
        """
        tracker, backend = self.tracker, self.backend
        # Verdicts before exits: a backend puts a verdict after the exit that caused it, so one
        # taken here never overtakes its exit (whose running task keeps its "worker died" text).
        verdicts = _take_all(backend.verdicts)
        exits = _take_all(backend.exits)
        exits.extend(tracker.kernel_exits())  # exits as the kernel reported them (engine/exit_watch.py)
        if exits:  # a start-up failure is reported before the exit it causes (else: in _verdict)
            self.startup.receive()
        for batch in self.receiver.receive_all():
            tracker.on_worker_batch(batch, now)
        fold = fold or bool(exits or verdicts) or tracker.unsettled_bytes >= FOLD_BYTES
        if fold:
            tracker.settle(now)
            self._next_fold = now + int(FOLD_S * 1e9)
        tracker.on_submissions(backend.submissions.take())
        tracker.on_callbacks(*backend.callbacks.take())
        for ex in exits:
            self.startup.on_exit(ex, ready=ex.pid in tracker.hello_pids)
            take_ended_from_ring(tracker, ex, self.receiver.address)  # what it ended, sent or not
            spare_finished(tracker, ex, self.receiver.address)  # a death between tasks blames none
            tracker.on_exit(ex)
            self.reaper.exited(ex.pid)
        for v in verdicts:
            tracker.end_tasks(np.asarray(v.task_ids, dtype=np.int64), v.state, v.t_ns, v.reason_type, v.reason)
        return fold

    # ---- threads that cannot be stopped ---------------------------------------------------------

    def _note_hung_threads(self, now: int) -> int:
        """At Stop: the thread lanes still running a task (they may never return). Returns when
        the unfinished tasks are ended: later than ``now`` if the last STARTs were taken in here."""
        if self.backend.worker_kind != LaneKind.THREAD:
            return now
        from procviz.engine.worker.instrument import recorder

        # A task begun moments ago may have its START still in this process's recorder (a long
        # task's is sent FLUSH_S / 2 after it began): sent and taken in now, or its thread is
        # neither named nor abandoned, and a hung one then blocks this process's exit. The send
        # goes from a thread of its own while this one reads: this thread is the socket's only
        # reader, and with its queue full (the task threads keep sending after Stop) a send made
        # here, or one waited for under the recorder's lock, would wait for ever.
        rec = recorder()
        if rec is not None and rec.pid == os.getpid():
            sender = threading.Thread(target=rec.flush, name="procviz-stop-flush", daemon=True)
            sender.start()
            self._drain_while(sender.is_alive, time.monotonic() + STOP_FLUSH_S, lambda: False)
            now = time.monotonic_ns()
            self._drain(now)
        tl = self.tracker.timeline
        for lane, task in self.tracker.running.items():
            info = tl.lanes[lane]
            self.hung.append((info.tid, f"thread {info.name or info.tid} (tid {info.tid}) in task {task}"))
        return now

    def _still_hung(self) -> tuple[str, ...]:
        """The hung threads still running; abandoned, so that this process can still exit."""
        alive = {t.native_id for t in threading.enumerate()}
        still = [(tid, text) for tid, text in self.hung if tid in alive]
        if still:  # the thread backend (and concurrent.futures) only when a thread run left some
            from procviz.engine.backends.threads import abandon_threads

            abandon_threads({tid for tid, _ in still})
        return tuple(text for _, text in still)

    # ---- the end --------------------------------------------------------------------------------

    def _await_submitter(self, timeout_s: float) -> None:
        """Let the submitter thread finish on its own, draining events meanwhile."""
        self._drain_while(self.submitter.is_alive, time.monotonic() + timeout_s, self.stop.is_set)

    def _shutdown(self, graceful: bool) -> None:
        """End the backend on a helper thread while this thread keeps draining events."""
        self.submitter.stop.set()
        if not graceful:
            self.backend.cancel()
        self.submitter.join(2.0)
        self.reaper.snapshot()  # the tasks' children, before their workers end and orphan them
        self._emit(self.tracker.cut(time.monotonic_ns(), RunStatus(RunPhase.STOPPING, "ending workers")))
        ender = threading.Thread(target=self._end_backend, args=(graceful,), name="procviz-shutdown", daemon=True)
        ender.start()
        # While the workers exit, this thread only waits: the time to import what finish() needs
        # (~10 ms of CPU that a small run's loop would otherwise wait for before it begins), and
        # in a big run to sum the last blocks ahead of finish() (every task has ended now).
        import procviz.engine.metrics  # noqa: F401
        self._next_sums = 0.0
        self._sum_ahead()
        deadline = time.monotonic() + (SHUTDOWN_S if graceful else STOP_SHUTDOWN_S)
        self._drain_while(ender.is_alive, deadline, lambda: graceful and self.stop.is_set(), emit=True)
        if ender.is_alive() and graceful:
            # close()+join() did not finish: fall back to terminate (and the SIGKILL sweep), and
            # say which workers held it (a thread or a child of theirs that does not end): a run
            # of 0.15 s took 10 s without a word.
            self._held = sorted(pid for pid in self._worker_pids() if _alive(pid))
            threading.Thread(target=self._end_backend, args=(False,), daemon=True).start()
        ended = not ender.is_alive()  # then nothing of the backend is left to start a process
        self.reaper.sweep()
        self._ended = ended
        ender.join(2.0)
        self._drain(time.monotonic_ns())  # what the ended workers sent is in the socket already

    def _drain_while(self, alive: Callable[[], bool], deadline: float, give_up: Callable[[], bool],
                     emit: bool = False) -> None:
        """Take events in while ``alive()`` (until ``deadline`` or ``give_up()``).

        The end of what it waits for is noticed within SHUTDOWN_POLL_S (a poll, no work); events
        are taken in when a datagram waits, and at least every LOOP_S (``emit``: cut a batch too).
        """
        last_pass = time.monotonic()
        while alive() and time.monotonic() < deadline and not give_up():
            if self.receiver.wait(SHUTDOWN_POLL_S) or time.monotonic() - last_pass >= LOOP_S:
                last_pass = time.monotonic()
                self._drain(time.monotonic_ns())
                if emit:
                    self._emit(self.tracker.cut(time.monotonic_ns()))
                # A worker a timeout terminated that ignores SIGTERM gets its SIGKILL after the grace
                # here too: the run's loop, which sent it, has ended (every task has), and the end
                # of the backend waited for that worker until the shutdown's limit (10 s).
                self.reaper.escalate(scan=False)

    def _end_backend(self, graceful: bool) -> None:
        try:
            self.backend.shutdown(graceful)
        except Exception:  # noqa: BLE001 - the SIGKILL sweep finishes the job
            pass

    def end_now(self) -> None:
        """An engine error: end the backend and sweep, without waiting for anything."""
        self.submitter.stop.set()
        self._end_backend(False)
        self.reaper.sweep()

    def _emit(self, batch: EngineBatch | None) -> None:
        emit(self.out, batch)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs still (not gone, not a zombie)."""
    st = stat_of(pid)
    return st is not None and st[2] not in ("Z", "X")


def _worker_pids(tracker: RunTracker, backend: Backend) -> set[int]:
    """Every worker process of the run: announced ones and those the backend started."""
    pids: set[int] = set(tracker.hello_pids)
    try:
        pids.update(backend.worker_pids())
    except Exception:  # noqa: BLE001 - best effort; hellos name the workers too
        pass
    pids.discard(os.getpid())
    return pids


def finish(tracker: RunTracker, out: queue.SimpleQueue[EngineBatch], outcome: RunOutcome, message: str,
            hung: tuple[str, ...] = (), now_ns: int | None = None) -> RunResult:
    """Close the lanes never seen to exit, send the final status, and make the result. ``now_ns``:
    when the sampler's strips were closed, if they were (a lane still open exits there too)."""
    from procviz.engine.metrics import compute_metrics  # imported during the shutdown, see LiveRun._shutdown

    now = time.monotonic_ns() if now_ns is None else now_ns
    for info in list(tracker.timeline.lanes):
        if info.exit_ns < 0:  # threads, swept workers
            tracker.set_lane(replace(info, exit_ns=now, exit_reason=info.exit_reason or "ended with the run"))
    explain_textless_failures(tracker)
    if tracker.lost_batches:
        message += f" ({tracker.lost_batches} event batches were lost)"
    emit(out, tracker.cut(now, RunStatus(RunPhase.FINISHED, message, outcome)))
    return RunResult(outcome, message, tracker.timeline, compute_metrics(tracker.timeline), hung)


def _take_all(q: queue.SimpleQueue) -> list:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def emit(out: queue.SimpleQueue[EngineBatch], batch: EngineBatch | None) -> None:
    """Hand ``batch`` to the run's consumers (nothing when there is no news)."""
    if batch is not None:
        out.put(batch)
