"""Rows the engine received but has not folded in yet (it folds every FOLD_S while tasks are
handed out) never change a decision: the engine's own ends of tasks fold them first, and a run
with rows waiting is not quiet."""

from __future__ import annotations

import dataclasses

import numpy as np

from procviz.engine.events import WIRE_EVENT_STRUCT, EventKind, RunInfo, Submitted, TaskState, WorkerBatch, WorkerHello
from procviz.engine.recovery import explain_textless_failures
from procviz.engine.sampler import StateSampler
from procviz.engine.tracker import RunTracker

T0 = 10**12
PID = 4242


def _tracker(n: int) -> RunTracker:
    run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": 1, "workload": {"kind": "cpu"}}, host="h",
                  cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    tracker.on_submitted(Submitted(np.arange(n), T0))
    return tracker


def _spans(tasks: range, seq: int, status: TaskState = TaskState.DONE) -> WorkerBatch:
    """A datagram of SPAN rows (whole tasks: end, with the start in ``spare``), as workers send."""
    buf = bytearray(WIRE_EVENT_STRUCT.size * len(tasks))
    for k, task in enumerate(tasks):
        start = T0 + 1000 * task
        WIRE_EVENT_STRUCT.pack_into(buf, k * WIRE_EVENT_STRUCT.size, EventKind.SPAN, status, PID, task,
                                    start + 500, 400, 50, start)
    hello = WorkerHello(PID, PID, T0, T0 + 1, True) if seq == 0 else None
    return WorkerBatch(PID, seq, bytes(buf), hello=hello)


def test_the_engines_ends_of_tasks_fold_the_rows_received_first() -> None:
    """A Stop (or a failure) ends every unfinished task: one whose end was received but not yet
    folded in is done, not cancelled."""
    tracker = _tracker(10)
    tracker.on_worker_batch(_spans(range(0, 4), 0), T0 + 10_000)
    tracker.settle(T0 + 10_000)
    tracker.on_worker_batch(_spans(range(4, 7), 1), T0 + 20_000)  # received, not folded in
    assert tracker.unsettled
    tracker.end_tasks(tracker.unfinished(), TaskState.CANCELLED, T0 + 30_000, "Cancelled", "stopped")
    counts = tracker.timeline.state_counts()
    assert counts[TaskState.DONE] == 7 and counts[TaskState.CANCELLED] == 3
    assert not tracker.unsettled
    assert (tracker.timeline.end_ns[4:7] == T0 + 1000 * np.arange(4, 7) + 500).all()


def test_rows_waiting_to_be_folded_in_are_progress() -> None:
    """The stall rule (no progress for a while after a worker died) must not fire while rows wait."""
    tracker = _tracker(10)
    tracker.on_worker_batch(_spans(range(0, 2), 0), T0 + 10_000)
    tracker.settle(T0 + 10_000)
    assert tracker.quiet_since_ns() == T0 + 10_000
    tracker.on_worker_batch(_spans(range(2, 4), 1), T0 + 5_000_000_000)
    assert tracker.quiet_since_ns() == T0 + 5_000_000_000
    tracker.settle(T0 + 5_000_000_001)
    assert tracker.quiet_since_ns() == T0 + 5_000_000_001


def test_a_worker_gone_before_its_hello_was_read_exits_when_it_was_seen_gone() -> None:
    """A worker whose hello is read after it exited (maxtasksperchild, a quick death) cannot be
    sampled; its owner's report of the exit (a Pool's join) comes up to 0.1 s later. Its exit is
    stamped when the kernel showed it gone, at the latest: never after, never before its strip."""
    import subprocess
    import time

    from procviz.engine.events import LaneKind, WorkerExit

    proc = subprocess.Popen(["true"])
    proc.wait()  # exited and reaped: its /proc entry is gone
    pid = proc.pid
    run = RunInfo(n_tasks=1, t0_ns=T0, config={"workers": 1}, host="h", cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    ready = time.monotonic_ns() - 5_000_000
    before = time.monotonic_ns()
    hello = WorkerHello(pid, pid, ready - 1000, ready, True, LaneKind.PROCESS, "", 1000, 10)
    tracker.on_worker_batch(WorkerBatch(pid, 0, b"", hello=hello), before)
    after = time.monotonic_ns()
    seen = tracker.sampler.gone_by(pid)
    assert seen is not None and before <= seen <= after
    tracker.on_exit(WorkerExit(pid, 0, after + 100_000_000))  # the owner's report, 0.1 s later
    lane = next(info for info in tracker.timeline.lanes if info.pid == pid)
    assert lane.exit_ns == seen


def test_a_gone_workers_exit_never_comes_before_what_its_lane_said() -> None:
    """The time a sampler thread saw a process gone is taken before its read, and a thread may
    wait for the GIL between the two: never before the end of the lane's last task."""
    import subprocess
    import time

    from procviz.engine.events import LaneKind, WorkerExit

    proc = subprocess.Popen(["true"])
    proc.wait()
    pid = proc.pid
    run = RunInfo(n_tasks=1, t0_ns=T0, config={"workers": 1}, host="h", cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    tracker.on_submitted(Submitted(np.arange(1), T0))
    ready = time.monotonic_ns() - 5_000_000
    hello = WorkerHello(pid, pid, ready - 1000, ready, True, LaneKind.PROCESS, "", 1000, 10)
    tracker.on_worker_batch(WorkerBatch(pid, 0, b"", hello=hello), ready)
    seen = tracker.sampler.gone_by(pid)
    assert seen is not None
    row = bytearray(WIRE_EVENT_STRUCT.size)  # its one task, ending after that reading
    WIRE_EVENT_STRUCT.pack_into(row, 0, EventKind.SPAN, TaskState.DONE, pid, 0, seen + 7_000_000, 400, 50, ready)
    tracker.on_worker_batch(WorkerBatch(pid, 1, bytes(row)), seen)
    tracker.settle(seen)
    tracker.on_exit(WorkerExit(pid, 0, seen + 100_000_000))
    lane = next(info for info in tracker.timeline.lanes if info.pid == pid)
    assert lane.exit_ns == seen + 7_000_000  # its task's end, not the earlier reading
    assert tracker.sampler.gone_by(pid) is None  # used once: the PID may be another's later


def test_a_failed_task_whose_text_never_came_says_so_and_names_its_process() -> None:
    """A worker sends a failed task's row, then its text: one ended by a signal in between took the
    text down with it, and the task said "(no reason recorded)"."""
    tracker = _tracker(4)
    tracker.on_worker_batch(_spans(range(0, 2), 0), T0 + 10_000)
    tracker.on_worker_batch(_spans(range(2, 4), 1, TaskState.FAILED), T0 + 20_000)  # no texts after them
    tracker.settle(T0 + 20_000)
    tl = tracker.timeline
    lane = int(tl.lane[2])
    tracker.set_lane(dataclasses.replace(tl.lanes[lane], exit_ns=T0 + 30_000, exit_code=-15,
                                         exit_reason="killed by SIGTERM"))
    explain_textless_failures(tracker)
    for task in (2, 3):
        text = tl.texts[task]
        assert text.type_name == "ReasonLost" and f"worker pid {PID} (killed by SIGTERM)" in text.message, text
    assert 0 not in tl.texts and 1 not in tl.texts  # done tasks need no reason
    batch = tracker.cut(T0 + 40_000)
    assert batch is not None and any(len(ids) == 2 for ids, _ in batch.shared_texts)  # the window hears it too
