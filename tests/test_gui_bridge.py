"""The engine-to-GUI bridge, fed synthetic EngineBatches: batching, budget, end of run."""

from __future__ import annotations

import os
import queue

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gui_helpers import EVENT_BOUND_MS  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.events import (  # noqa: E402
    END_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    RunPhase,
    RunStatus,
    TaskState,
)
from procviz.engine.metrics import compute_metrics  # noqa: E402
from procviz.engine.runner import RunResult  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.bridge import END_TICK_MS, TICK_MS, EngineBridge  # noqa: E402

T0 = 1_000_000_000


class FakeEngine:
    """Stands in for engine.runner.Engine: the test puts batches on ``events`` by hand."""

    def __init__(self) -> None:
        self.events: queue.SimpleQueue[EngineBatch] = queue.SimpleQueue()
        self.running = False
        self.result: RunResult | None = None
        self.stop_calls: list[float] = []

    def start(self, config) -> None:
        self.running = True

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stop_calls.append(timeout_s)

    def join(self, timeout_s=None):
        return None if self.running else self.result

    def finish(self, timeline: Timeline, outcome: str = "completed") -> None:
        self.result = RunResult(outcome, "done", timeline, compute_metrics(timeline))
        self.running = False


def run_info(n: int) -> RunInfo:
    return RunInfo(n_tasks=n, t0_ns=T0, config={"workers": 2}, host="h", cpu_count=2, schedstat=True)


def task_batches(n: int, per_batch: int) -> list[EngineBatch]:
    """A run of n tasks on 2 lanes, cut into batches of ``per_batch`` tasks, then FINISHED."""
    lanes = (LaneInfo(0, 101, 101, "process", "worker 0"), LaneInfo(1, 102, 102, "process", "worker 1"))
    running = RunStatus(RunPhase.RUNNING, "running")
    out = [EngineBatch(run=run_info(n), lanes=lanes, status=running, now_ns=T0)]
    for lo in range(0, n, per_batch):
        ids = np.arange(lo, min(n, lo + per_batch))
        sub = np.zeros(len(ids), SUBMIT_DTYPE)
        sub["task_id"], sub["t_ns"] = ids, T0 + ids * 10
        st = np.zeros(len(ids), START_DTYPE)
        st["task_id"], st["lane"], st["t_ns"] = ids, ids % 2, T0 + ids * 1000
        en = np.zeros(len(ids), END_DTYPE)
        en["task_id"], en["lane"], en["state"] = ids, ids % 2, TaskState.DONE
        en["start_ns"], en["end_ns"] = st["t_ns"], st["t_ns"] + 900
        en["cpu_ns"], en["ready_ns"] = 500, 100
        out.append(EngineBatch(submitted=sub, started=st, ended=en, now_ns=int(en["end_ns"].max())))
    finished = RunStatus(RunPhase.FINISHED, "all done", "completed")
    out.append(EngineBatch(status=finished, now_ns=T0 + n * 1000))
    return out


@pytest.fixture
def setup(qtbot):
    engine = FakeEngine()
    timeline = Timeline()
    bridge = EngineBridge(timeline, engine)  # type: ignore[arg-type]
    notes = []
    timeline.subscribe(notes.append)
    return engine, timeline, bridge, notes


def test_one_notification_per_tick_however_many_batches(setup) -> None:
    engine, timeline, bridge, notes = setup
    bridge.start(parse_config({"workers": 2}))
    batches = task_batches(10_000, 100)  # 102 batches
    for b in batches[:-1]:
        engine.events.put(b)
    applied = bridge.tick(budget_s=None)
    assert applied == 3 * 10_000
    assert len(notes) == 1
    assert notes[0].reset and notes[0].tasks and notes[0].lanes
    assert timeline.finished_count() == 10_000
    assert bridge.active


def test_tick_budget_leaves_the_rest_for_later_ticks(setup) -> None:
    engine, timeline, bridge, notes = setup
    bridge.start(parse_config({"workers": 2}))
    for b in task_batches(2_000, 1)[:-1]:
        engine.events.put(b)
    assert bridge.tick(budget_s=0.0) == 0  # exactly one batch: the run's start, no task events
    assert timeline.run is not None
    assert bridge.tick(budget_s=0.0) == 3  # the next batch: one task submitted, started, ended
    assert not engine.events.empty()
    ticks = 2
    while not engine.events.empty():
        bridge.tick(budget_s=0.0)
        ticks += 1
    assert ticks > 100
    assert len(notes) == ticks
    assert timeline.finished_count() == 2_000


def test_run_finished_is_emitted_once_with_the_result_after_the_last_batch(qtbot, setup) -> None:
    engine, timeline, bridge, notes = setup
    results = []
    statuses = []
    bridge.runFinished.connect(results.append)
    bridge.statusChanged.connect(statuses.append)
    bridge.start(parse_config({"workers": 2}))
    for b in task_batches(50, 10):
        engine.events.put(b)
    bridge.tick()
    assert timeline.status is not None and timeline.status.phase == RunPhase.FINISHED
    assert results == []  # the engine thread has not handed over its result yet
    assert bridge.active
    engine.finish(timeline)
    bridge.tick()
    assert len(results) == 1 and results[0].outcome == "completed"
    assert not bridge.active and not bridge.timer.isActive()
    bridge.tick()
    assert len(results) == 1
    assert [s.phase for s in statuses] == [RunPhase.RUNNING, RunPhase.FINISHED]


def test_timer_drives_the_ticks(qtbot, setup) -> None:
    engine, timeline, bridge, notes = setup
    results = []
    bridge.runFinished.connect(results.append)
    bridge.start(parse_config({"workers": 2}))
    assert bridge.timer.isActive()
    for b in task_batches(100, 10):
        engine.events.put(b)
    engine.finish(timeline)
    qtbot.waitUntil(lambda: bool(results), timeout=EVENT_BOUND_MS)
    assert timeline.finished_count() == 100
    assert bridge.events_applied == 300


def test_the_timer_ticks_often_once_the_run_is_ending_and_at_its_pace_again_next_run(setup) -> None:
    # The run's end is shown within a few ms of its last batch, not up to a 33 ms tick later.
    engine, timeline, bridge, notes = setup
    bridge.start(parse_config({"workers": 2}))
    batches = task_batches(20, 10)
    for b in batches[:-1]:
        engine.events.put(b)
    bridge.tick()
    assert bridge.timer.interval() == TICK_MS  # tasks still running: the usual pace
    engine.events.put(EngineBatch(status=RunStatus(RunPhase.STOPPING, "ending workers"), now_ns=T0 + 10**8))
    bridge.tick()
    assert bridge.timer.isActive() and bridge.timer.interval() == END_TICK_MS < TICK_MS
    engine.events.put(batches[-1])
    engine.finish(timeline)
    bridge.tick()
    assert not bridge.active
    bridge.start(parse_config({"workers": 2}))
    assert bridge.timer.interval() == TICK_MS


def test_stale_batches_of_an_earlier_run_are_dropped(setup) -> None:
    engine, timeline, bridge, notes = setup
    engine.events.put(task_batches(5, 5)[1])
    bridge.start(parse_config({"workers": 2}))
    assert engine.events.empty()
    with pytest.raises(RuntimeError):
        bridge.start(parse_config({"workers": 2}))


def test_request_stop_does_not_block_and_stop_and_wait_applies_the_rest(setup) -> None:
    engine, timeline, bridge, notes = setup
    results = []
    bridge.runFinished.connect(results.append)
    bridge.start(parse_config({"workers": 2}))
    bridge.request_stop()
    assert engine.stop_calls == [0.0]
    for b in task_batches(20, 5):
        engine.events.put(b)
    engine.finish(timeline, "stopped")
    result = bridge.stop_and_wait(5.0)
    assert result is not None and result.outcome == "stopped"
    assert timeline.finished_count() == 20
    assert len(results) == 1 and not bridge.active


def test_event_rate_counts_recent_events(setup) -> None:
    engine, timeline, bridge, notes = setup
    bridge.start(parse_config({"workers": 2}))
    assert bridge.event_rate() == 0.0
    for b in task_batches(300, 100)[:-1]:
        engine.events.put(b)
    bridge.tick(budget_s=None)
    assert bridge.event_rate() > 0


def test_latency_probe_records_event_age_at_apply(setup) -> None:
    import time

    engine, timeline, bridge, notes = setup
    bridge.record_latency = True
    bridge.start(parse_config({"workers": 2}))
    now = time.monotonic_ns()
    en = np.zeros(1, END_DTYPE)
    en["task_id"], en["lane"], en["state"], en["start_ns"], en["end_ns"] = 0, 0, TaskState.DONE, now - 10, now
    engine.events.put(EngineBatch(run=RunInfo(1, now, {}, "h", 1, True)))
    engine.events.put(EngineBatch(ended=en))
    bridge.tick(budget_s=None)
    lat = np.concatenate(bridge.latencies_ns)
    assert len(lat) == 1 and 0 <= lat[0] < 5e9
