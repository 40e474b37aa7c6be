"""How often the engine loop wakes while a run goes on (issue 10: its CPU is the workers' on 2 cores).

While tasks are being handed out the loop makes at most one pass per sampling tick, however many
datagrams the workers send, and folds the workers' rows in once per FOLD_S; once every result is
back it takes the last events as they arrive, so the end of a run is not put off by a tick.
Counts, not timings: a loaded machine can only make the loop wake less often.
"""

from __future__ import annotations

import threading
import time

from engine_helpers import run_config

import procviz.engine.run_loop as run_loop
from procviz.engine.channel import EventReceiver
from procviz.engine.events import TaskState
from procviz.engine.tracker import RunTracker


def test_the_loop_makes_at_most_one_pass_per_tick_while_tasks_are_handed_out(monkeypatch) -> None:
    passes: list[tuple[float, bool]] = []
    real = run_loop.LiveRun._pass

    def counted(self, now):
        passes.append((time.monotonic(), self.submitter.is_alive()))
        return real(self, now)

    monkeypatch.setattr(run_loop.LiveRun, "_pass", counted)
    # 2 workers flushing a datagram every ~10 ms each: a pass per datagram would be ~4 per tick
    result = run_config({"workers": 2, "workload": {"kind": "cpu", "count": 400, "duration_ms": 2}})
    assert result.outcome == "completed", result.message
    busy = [t for t, alive in passes if alive]
    assert len(busy) >= 5  # the check sees the loop at work
    elapsed = busy[-1] - busy[0]
    assert len(busy) - 1 <= elapsed / run_loop.LOOP_S + 1


def test_once_every_result_is_back_the_loop_waits_for_no_tick(monkeypatch) -> None:
    waits: list[tuple[bool, float]] = []  # (submitter alive, how long the wait may not end)
    real_wait, real_loop = run_loop.EventReceiver.wait_for_events, run_loop.LiveRun._loop

    def loop(self):
        def recorded(tick_due_s, not_before_s, wake=None):
            waits.append((not self.submitter.ended.is_set(), not_before_s - time.monotonic()))
            return real_wait(self.receiver, tick_due_s, not_before_s, wake)

        self.receiver.wait_for_events = recorded
        return real_loop(self)

    monkeypatch.setattr(run_loop.LiveRun, "_loop", loop)
    for _ in range(3):  # the last events usually come after the last result (a worker flushes within 10 ms)
        result = run_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 30}})
        assert result.outcome == "completed", result.message
    assert any(alive and pause > 0 for alive, pause in waits)  # spaced while tasks are handed out
    assert all(pause <= 0 for alive, pause in waits if not alive)


def test_the_submitters_end_cuts_the_pause_short() -> None:
    """The pass after the last result comes back is not put off to the next tick: the submitter's
    end (its ``ended`` event) wakes the engine's pause at once."""
    receiver = EventReceiver()
    ended = threading.Event()
    try:
        threading.Timer(0.05, ended.set).start()
        t0 = time.monotonic()
        receiver.wait_for_events(t0 + 30.0, t0 + 30.0, ended)  # without the wake: 30 s
        assert time.monotonic() - t0 < 15.0
    finally:
        receiver.close()


def test_worker_rows_are_folded_in_once_per_fold_period_while_tasks_are_handed_out(monkeypatch) -> None:
    """A fold costs the engine about the same CPU however few rows it takes: while tasks are
    handed out, rows wait for the next FOLD_S (the datagrams are still received every pass)."""
    folds: list[tuple[float, bool]] = []  # (when, submitter alive) of each fold that took rows in
    real = RunTracker.settle

    def counted(self, now_ns):
        if self.unsettled:
            folds.append((time.monotonic(), not submitter_ended[0].is_set()))
        return real(self, now_ns)

    submitter_ended: list[threading.Event] = []
    real_loop = run_loop.LiveRun._loop

    def loop(self):
        submitter_ended.append(self.submitter.ended)
        return real_loop(self)

    monkeypatch.setattr(RunTracker, "settle", counted)
    monkeypatch.setattr(run_loop.LiveRun, "_loop", loop)
    # 2 workers flushing a datagram every ~10 ms each: a fold per pass would be one per LOOP_S
    result = run_config({"workers": 2, "workload": {"kind": "cpu", "count": 400, "duration_ms": 2}})
    assert result.outcome == "completed", result.message
    assert result.timeline.state_counts()[TaskState.DONE] == 400
    busy = [t for t, alive in folds if alive]
    assert len(busy) >= 3  # the check sees the loop at work
    assert len(busy) - 1 <= (busy[-1] - busy[0]) / run_loop.FOLD_S + 1


def test_a_pass_folds_the_rows_in_once_fold_bytes_of_them_wait(monkeypatch) -> None:
    """A big run's fold costs its rows, not the call: it is not put off (FOLD_BYTES)."""
    left: list[bool] = []  # after each pass: whether rows were left waiting
    real = run_loop.LiveRun._pass

    def checked(self, now):
        folded = real(self, now)
        left.append(self.tracker.unsettled)
        return folded

    monkeypatch.setattr(run_loop.LiveRun, "_pass", checked)
    monkeypatch.setattr(run_loop, "FOLD_BYTES", 1)  # any row: fold at every pass
    result = run_config({"workers": 2, "workload": {"kind": "cpu", "count": 200, "duration_ms": 2}})
    assert result.outcome == "completed", result.message
    assert len(left) >= 5 and not any(left)
