"""Ending tasks that would otherwise keep a run open: timeouts, and work lost with a worker.

Rules over the tracker's state, applied once per engine loop pass (or per worker exit); none
blocks.
"""

from __future__ import annotations

import os

import numpy as np

from procviz.engine.backends.base import Backend, WorkerExit
from procviz.engine.events import WIRE_EVENT_STRUCT, EventKind, LaneKind, TaskState, TaskText, describe_exit
from procviz.engine.reaper import Reaper
from procviz.engine.tracker import RunTracker
from procviz.engine.worker.task_slot import SlotView, finished_task_of, read_slot, read_slot_head

STALL_S = 2.0  # no progress for this long after a worker death: its unstarted work is lost
EVENTS_GRACE_S = 1.0


def enforce_timeouts(tracker: RunTracker, backend: Backend, reaper: Reaper, now: int, timeout_s: float) -> None:
    """End every task running longer than ``timeout_s`` and terminate its worker process.

    "Running" is the engine's view, and a task's END reaches it a few ms after the task: a task
    that ended just inside its limit looked running past it (it was called a timeout, its worker
    terminated, and the task after it killed). A worker process's own slot decides
    (:func:`take_from_slot`): a task it ended is taken from its ring now, and the task it is in,
    if another, starts where the slot says; only a task its worker is still in, past its limit,
    is ended and its worker terminated.
    """
    tl = tracker.timeline
    timeout_ns = int(timeout_s * 1e9)
    for lane, task in list(tracker.running.items()):
        if now - tl.start_ns[task] <= timeout_ns:
            continue
        pid = tl.lanes[lane].pid
        own = pid == os.getpid()  # a thread of this process: never terminate ourselves
        if not own:
            slot = take_from_slot(tracker, backend.address, pid, now)
            if slot is not None and slot.task >= 0 and tl.state[task] >= TaskState.DONE:
                continue  # it ended in time (its row was in the ring): the next pass times what follows
        tracker.end_tasks(np.array([task]), TaskState.TIMEOUT, now, "Timeout",
                          f"ran longer than task_timeout_s={timeout_s:g}; "
                          + ("a thread cannot be stopped: it runs on" if own else f"worker pid {pid} was terminated"))
        if own:
            continue
        if backend.worker_kind == LaneKind.PROCESS:
            tracker.lose_chunk(task, pid, "terminated after a timeout", now)
        reaper.terminate(pid)


def take_from_slot(tracker: RunTracker, address: str, pid: int, now: int) -> SlotView | None:
    """Fold in what worker process ``pid``'s ring holds of tasks the engine still sees unfinished,
    and start the task its slot says it is in, from its slot's start, if the engine had not heard
    of it; its slot (None if it has none). A task that holds the GIL keeps the worker's flusher
    from sending anything, the END of the task before it and its own START included: told
    nothing, the engine could not time it out."""
    slot = read_slot(address, pid)
    if slot is None or slot.task < 0:
        return slot
    state = tracker.timeline.state
    n = len(state)
    rows = slot.rows_of(lambda task: task < n and state[task] < TaskState.DONE)
    if not slot.ended and slot.task < n and state[slot.task] < TaskState.RUNNING:
        rows += WIRE_EVENT_STRUCT.pack(EventKind.START, 0, pid, slot.task, slot.started_ns, 0, 0, 0)
    if rows:
        tracker.on_rows_read(pid, rows, now)
        tracker.settle(now)
    return slot


def start_silent_tasks(tracker: RunTracker, backend: Backend, now: int, timeout_s: float) -> None:
    """For a run with a time limit: the worker processes the engine sees idle, whose slot says
    they have been in a task for longer than its limit (a task that holds the GIL from its start
    sends no START: the engine would never time it out), have what their slot and ring say taken
    in (:func:`take_from_slot`); the next pass then times the task out."""
    if backend.worker_kind != LaneKind.PROCESS:
        return
    timeout_ns = int(timeout_s * 1e9)
    busy = set(tracker.running)
    state = tracker.timeline.state
    for info in tracker.timeline.lanes:
        if info.kind != LaneKind.PROCESS or info.exit_ns >= 0 or info.index in busy:
            continue
        head = read_slot_head(backend.address, info.pid)  # 16 bytes: the ring is read only when needed
        if head is None or not 0 <= head[0] < len(state) or state[head[0]] >= TaskState.RUNNING:
            continue  # no task, or one the engine has heard of
        if now - head[1] > timeout_ns:
            take_from_slot(tracker, backend.address, info.pid, now)


def take_ended_from_ring(tracker: RunTracker, ex: WorkerExit, address: str) -> None:
    """A worker process died abnormally: what its slot and ring, which outlive it, say of the
    tasks the engine still sees unfinished is folded in now, before its death is pinned on any of
    them (:func:`take_from_slot`). The tasks it ended whose events went down with it unsent (they
    leave in batches, a few milliseconds late; a group of short tasks leaves only once the group
    closes, see instrument._run_coarse) end as they did; the task it died in starts where its slot
    says, on the worker's lane, so :meth:`RunTracker.on_exit` fails it there: a Pool chunk's task
    that crashed its worker had its START buffered with it, and was failed with no bar at all.
    Call before :func:`spare_finished`."""
    if ex.exit_code:
        take_from_slot(tracker, address, ex.pid, ex.t_ns)


def spare_finished(tracker: RunTracker, ex: WorkerExit, address: str) -> None:
    """A worker died abnormally between tasks: the task it finished last is not the culprit.

    Its events may have gone down with the worker unsent (they leave in batches, a few
    milliseconds late); if its END never arrived, end it now as events lost, naming the death, so
    that :meth:`RunTracker.on_exit` (its START may have arrived: it looks running) does not blame
    it for a death that came after it. Call before ``tracker.on_exit(ex)``.
    """
    task = _unfinished(tracker, ex, finished_task_of(address, ex.pid))
    if task is None:
        return
    tracker.end_tasks(np.array([task]), TaskState.FAILED, ex.t_ns, "EventsLost",
                      f"finished, but its events went down unsent with worker pid {ex.pid}, "
                      f"{describe_exit(ex.exit_code)} after it, between tasks")


def _unfinished(tracker: RunTracker, ex: WorkerExit, task: int | None) -> int | None:
    """``task`` (read from the slot of a worker that died abnormally) if it is a task of this run
    not yet ended; else None."""
    if not ex.exit_code or task is None or task >= tracker.timeline.n_tasks:
        return None
    return task if tracker.timeline.state[task] < TaskState.DONE else None


def recover_lost_work(tracker: RunTracker, backend: Backend, now: int) -> None:
    """End tasks that can never finish.

    * After a worker died abnormally, queued tasks may have gone down with it unseen (its START
      was still buffered when it died, or a chunk it took had not started). Once nothing runs,
      a live worker is idle and nothing moved for STALL_S, the queued tasks will never run:
      a Pool hands queued work to idle workers at once. Their reason names the deaths the engine
      saw (signal or exit code, PID): one of them took the task.
    * When the backend delivered every result but some task's events never arrived (a lost
      datagram), the task is over: end it with that reason.
    """
    quiet_ns = now - tracker.quiet_since_ns()
    if tracker.abnormal_deaths and not tracker.running and tracker.live_workers() and quiet_ns > STALL_S * 1e9:
        queued = tracker.unfinished()
        queued = queued[tracker.timeline.state[queued] == TaskState.QUEUED]
        tracker.end_tasks(queued, TaskState.FAILED, now, "LostWithWorker",
                          "lost: a worker died before reporting this task; it may have crashed that worker "
                          f"or gone down with it ({_deaths(tracker)})")
    if backend.all_results_delivered() and quiet_ns > EVENTS_GRACE_S * 1e9:
        tracker.end_tasks(tracker.unfinished(), TaskState.FAILED, now, "EventsLost",
                          "the backend delivered its result, but this task's events never arrived")


def _deaths(tracker: RunTracker) -> str:
    """The abnormal worker exits seen so far, e.g. "worker pid 7 killed by SIGSEGV"."""
    tl = tracker.timeline
    seen = []
    for info in tl.lanes:
        if info.exit_ns >= 0 and info.exit_code not in (0, None) and info.kind == LaneKind.PROCESS:
            seen.append(f"worker pid {info.pid} {info.exit_reason}")
    if not seen:
        return "the worker's exit was not observed"
    return "; ".join(seen[-3:]) + (f"; {len(seen) - 3} more" if len(seen) > 3 else "")


def explain_textless_failures(tracker: RunTracker) -> None:
    """Give the failed tasks whose error text never came one that says so, by lane.

    A worker sends a failed task's row, then its text; a process ended by a signal in between
    (a scenario's roles are SIGTERMed when its main program gives up; their flush on SIGTERM
    has a deadline) took the text down with it, and the task said "(no reason recorded)"."""
    tl = tracker.timeline
    failed = np.flatnonzero(tl.state == TaskState.FAILED)
    if not len(failed):
        return
    has_text = np.fromiter(map(tl.texts.__contains__, failed.tolist()), dtype=bool, count=len(failed))
    missing = failed[~has_text]
    if not len(missing):
        return
    missing = missing[np.argsort(tl.lane[missing], kind="stable")]  # grouped by lane, in one sort
    lanes, first = np.unique(tl.lane[missing], return_index=True)
    for lane, ids in zip(lanes.tolist(), np.split(missing, first[1:]), strict=True):
        if 0 <= lane < len(tl.lanes):
            info = tl.lanes[lane]
            how = f" ({info.exit_reason})" if info.exit_reason else ""
            said = f"failed in worker pid {info.pid}{how}; why went down with the process before it was sent"
        else:
            said = "failed; its error text never reached procviz"
        tracker.share_text(ids, TaskText(-1, "error", "ReasonLost", said))
