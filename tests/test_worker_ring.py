"""A worker's rows go through a per-thread ring without a lock: none lost, none twice, in order.

The recording thread writes one SPAN row per task into its ring while other threads take rows
(the flusher, here also a thread flushing as fast as it can); the engine's tracker folds SPAN rows
as a START and an END. These tests read the real datagrams a Recorder sends (in this process,
from a socket they drain) and replay rows into a real tracker.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from worker_helpers import Sink, connected_sink, wire_rows

from procviz.engine.events import WIRE_EVENT_DTYPE, RunInfo, Submitted, WorkerBatch
from procviz.engine.sampler import StateSampler
from procviz.engine.tally import RunTally
from procviz.engine.timeline import Timeline
from procviz.engine.tracker import RunTracker
from procviz.engine.worker import instrument, recorder
from procviz.engine.worker.wire import WIRE_EVENT_FIELDS, WIRE_EVENT_STRUCT, EventKind, TaskState, WorkerHello

T0 = 10**12
FAIL_EVERY = 997  # tasks whose id is a multiple of this raise
RESULT_EVERY = 1009  # tasks whose id is a multiple of this return a value to report


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    """A Recorder of this process connected to a fresh sink; closed (goodbye sent) after the test."""
    yield from connected_sink(tmp_path)


def flaky(task_id: int) -> int | None:
    """A task that fails or returns a value now and then (module level: resolved by name)."""
    if task_id % FAIL_EVERY == 0:
        raise ValueError(f"task {task_id} refused")
    return task_id if task_id % RESULT_EVERY == 0 else None


def slow_flaky(task_id: int) -> None:
    """A task long enough for the schedstat loop (instrument.FINE_NS) that fails now and then."""
    time.sleep(0.0005)
    if task_id % 5 == 3:
        raise ValueError(f"task {task_id} refused")


def flushes_inside(task_id: int) -> None:
    """A task during which its own thread flushes twice (as the flusher would, seeing it run)."""
    rec = instrument.recorder()
    assert rec is not None
    rec.flush()
    rec.flush()


def test_every_task_travels_once_in_order_with_its_texts_after_it(sink: Sink) -> None:
    n, chunk = 3 * recorder.RING_ROWS + 123, 500  # the ring wraps several times
    stop = threading.Event()
    rec = instrument.recorder()
    assert rec is not None

    def flush_all_the_time() -> None:  # a second reader racing the writer (and the flusher)
        while not stop.is_set():
            rec.flush()

    racer = threading.Thread(target=flush_all_the_time, daemon=True)
    racer.start()
    try:
        for start in range(0, n, chunk):
            ids = range(start, min(start + chunk, n))
            instrument.run_chunk(f"{__name__}:flaky", True, (ids, None, [(t,) for t in ids]))
    finally:
        stop.set()
        racer.join(10)
    instrument.disconnect_threads()
    batches = sink.close()
    rows = wire_rows(batches)
    spans = rows[rows["kind"] == EventKind.SPAN]
    assert spans["task_id"].tolist() == list(range(n))  # none lost, none twice, in order
    assert set(rows["kind"].tolist()) <= {EventKind.SPAN, EventKind.START}
    failed = spans["task_id"][spans["status"] == TaskState.FAILED].tolist()
    assert failed == [t for t in range(n) if t % FAIL_EVERY == 0]
    # (-1: a short task in a group off CPU for longer than it lasted, here while the racer held the GIL)
    assert (spans["spare"] <= spans["t_ns"]).all() and (spans["cpu_ns"] >= -1).all()
    assert (spans["cpu_ns"] <= spans["t_ns"] - spans["spare"]).all()
    # Each text comes in the datagram of its task's row or a later one, never before it.
    row_at = {}
    for k, b in enumerate(batches):
        for t in np.frombuffer(b.rows, dtype=WIRE_EVENT_DTYPE)["task_id"].tolist():
            row_at.setdefault(t, k)
    texts = [(k, text) for k, b in enumerate(batches) for text in b.texts]
    assert sorted(text.task_id for _, text in texts) == [
        t for t in range(n) if t % FAIL_EVERY == 0 or t % RESULT_EVERY == 0]
    assert all(k >= row_at[text.task_id] for k, text in texts)
    assert {text.kind for _, text in texts if text.task_id % FAIL_EVERY == 0} == {"error"}


def test_a_task_seen_running_by_a_flush_has_its_start_sent_once(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    # (in the schedstat loop: a short task of an open group has no START sent, see the next test)
    monkeypatch.setattr(instrument, "FINE_NS", 0)
    monkeypatch.setattr(instrument._meter(), "fine", instrument._meter().fd >= 0)  # noqa: SLF001
    if not instrument._meter().fine:  # noqa: SLF001
        pytest.skip("no /proc/thread-self/schedstat: the short-task loop only")
    instrument.run_chunk(f"{__name__}:flushes_inside", False, (range(3), None, [(t,) for t in range(3)]))
    instrument.disconnect_threads()
    rows = wire_rows(sink.close())
    starts = rows[rows["kind"] == EventKind.START]
    spans = rows[rows["kind"] == EventKind.SPAN]
    assert sorted(starts["task_id"].tolist()) == [0, 1, 2]  # one each, though each saw two flushes
    assert spans["task_id"].tolist() == [0, 1, 2]
    for t in range(3):  # the START went first, with the start its SPAN row carries
        k_start = int(np.flatnonzero((rows["kind"] == EventKind.START) & (rows["task_id"] == t))[0])
        k_span = int(np.flatnonzero((rows["kind"] == EventKind.SPAN) & (rows["task_id"] == t))[0])
        assert k_start < k_span and rows["t_ns"][k_start] == rows["spare"][k_span]


def test_a_short_task_of_an_open_group_seen_running_by_a_flush_has_no_start(
        sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a group of short tasks, whose rows leave when it closes, a START sent for a task seen
    running would arrive before the rows of the tasks before it: none is sent for a task begun
    less than FLUSH_S / 2 ago; each task's row travels once, in order."""
    monkeypatch.setattr(instrument, "FINE_NS", 1 << 62)
    monkeypatch.setattr(instrument, "GROUP_NS", 1 << 40)  # one group for the chunk
    monkeypatch.setattr(instrument._meter(), "fine", False)  # noqa: SLF001
    monkeypatch.setattr(instrument._meter(), "solo", 0)  # noqa: SLF001
    instrument.run_chunk(f"{__name__}:flushes_inside", False, (range(3), None, [(t,) for t in range(3)]))
    instrument.disconnect_threads()
    rows = wire_rows(sink.close())
    assert rows[rows["kind"] == EventKind.START]["task_id"].tolist() == []
    assert rows[rows["kind"] == EventKind.SPAN]["task_id"].tolist() == [0, 1, 2]


def test_tasks_of_the_schedstat_loop_travel_with_their_failures_and_run_queue_wait(sink: Sink) -> None:
    n = 60
    instrument.run_chunk(f"{__name__}:slow_flaky", False, (range(n), None, [(t,) for t in range(n)]))
    instrument.run_chunk(f"{__name__}:slow_flaky", False, (range(n, 2 * n), None, [(t,) for t in range(n, 2 * n)]))
    instrument.disconnect_threads()
    batches = sink.close()
    rows = wire_rows(batches)
    spans = rows[rows["kind"] == EventKind.SPAN]
    assert spans["task_id"].tolist() == list(range(2 * n))
    failed = spans["task_id"][spans["status"] == TaskState.FAILED].tolist()
    assert failed == [t for t in range(2 * n) if t % 5 == 3]
    assert sorted(text.task_id for b in batches for text in b.texts) == failed
    wall = spans["t_ns"] - spans["spare"]
    # Every task is long enough for its run-queue wait to be measured (the first may follow short
    # tasks of an earlier test on this thread: it then says -1, unmeasured, and hands over).
    assert (spans["ready_ns"][1:] >= 0).all() and spans["ready_ns"][0] >= -1
    assert (spans["cpu_ns"] > 0).all() and (spans["cpu_ns"] + spans["ready_ns"].clip(0) <= wall).all()
    assert (spans["spare"][1:] >= spans["t_ns"][:-1]).all()  # one after another, windows apart


def _packed(events: list[tuple[int, int, int, int, int]]) -> bytes:
    """Rows of (kind, task, t_ns, cpu_ns, start_ns) for thread 7."""
    buf = bytearray(WIRE_EVENT_STRUCT.size * len(events))
    for k, (kind, task, t, cpu, start) in enumerate(events):
        status = 0 if kind == EventKind.START else int(TaskState.DONE)
        ready = 5 if kind == EventKind.END else -1
        WIRE_EVENT_STRUCT.pack_into(buf, k * WIRE_EVENT_STRUCT.size, kind, status, 7, task, t, cpu, ready,
                                    start if kind == EventKind.SPAN else 0)
    return bytes(buf)


@pytest.mark.parametrize("seed", range(4))
def test_span_rows_rebuild_the_timeline_and_count_each_start_once(seed: int) -> None:
    """A task travels as one SPAN row, as a START then a SPAN (a flush saw it running), or as a
    START then an END; cut into datagrams and drains at random, every consumer agrees with the
    engine, each task's START and END count once, and on-CPU never exceeds wall."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 300))
    events: list[tuple[int, int, int, int, int]] = []
    for task in range(n):
        start, end = T0 + 1000 * task, T0 + 1000 * task + 400
        cpu = 450 if task % 3 == 0 else 300  # more CPU than wall: the clamp's case
        how = int(rng.integers(3))
        if how == 0:
            events.append((EventKind.SPAN, task, end, cpu, start))
        else:
            events.append((EventKind.START, task, start, 0, 0))
            events.append((EventKind.SPAN if how == 1 else EventKind.END, task, end, cpu, start))
    cuts = np.sort(rng.choice(np.arange(1, len(events)), size=12, replace=False))
    parts = np.split(np.arange(len(events)), cuts)
    run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": 1, "workload": {"kind": "cpu"}}, host="h",
                  cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler(watch_exits=False, machine=False))
    consumer, tally = Timeline(), RunTally()
    first = tracker.cut(T0)
    assert first is not None
    consumer.apply(first)
    tally.apply(first)
    tracker.on_submitted(Submitted(np.arange(n), T0))
    tracker.on_worker_batch(WorkerBatch(100, 0, b"", hello=WorkerHello(100, 7, T0, T0 + 1, True)), T0)
    counted = 0
    for k, part in enumerate(parts):
        tracker.on_worker_batch(WorkerBatch(100, k + 1, _packed([events[i] for i in part])), T0 + k)
        if rng.random() < 0.6 or k == len(parts) - 1:  # a drain now and then
            tracker.settle(T0 + k)
            batch = tracker.cut(T0 + k)
            if batch is not None:
                counted += batch.event_count() - len(batch.submitted)
                consumer.apply(batch)
                tally.apply(batch)
    tl = tracker.timeline
    assert (tl.state == TaskState.DONE).all() and tally.state_counts()[TaskState.DONE] == n
    assert counted == 2 * n  # every START and every END, once
    assert (tl.start_ns == T0 + 1000 * np.arange(n)).all() and (consumer.start_ns == tl.start_ns).all()
    assert (tl.cpu_ns <= tl.end_ns - tl.start_ns).all() and (consumer.cpu_ns == tl.cpu_ns).all()
    assert (tl.ready_ns <= tl.end_ns - tl.start_ns - tl.cpu_ns).all()
    assert not tracker.running


def test_a_process_worker_main_thread_uses_the_process_task_slot(sink: Sink) -> None:
    """The main thread's meter writes the process's slot (the one read after a death); any other
    thread writes a slot of its own. A slot keeps the task begun last; its row says it ended."""
    instrument.run_chunk(f"{__name__}:flaky", False, (range(1, 3), None, [(1,), (2,)]))
    rec = instrument.recorder()
    meter = instrument._meter()  # noqa: SLF001
    assert rec is not None and rec.slot[0] == 2 and meter.ids is rec.slot
    assert meter.running(meter.off) == -1  # ended: its row is the last written
    seen = []

    def other() -> None:
        instrument.run_chunk(f"{__name__}:flaky", False, (range(5, 6), None, [(5,)]))
        own = instrument._meter()  # noqa: SLF001
        seen.append((own.ids[0], own.running(own.off)))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert seen == [(5, -1)] and rec.slot[0] == 2
    assert os.getpid() == rec.pid


def test_the_fast_row_packer_writes_the_wire_bytes() -> None:
    """ROW_PACKER (native fields where the host's layout is the wire's), and PAYLOAD_PACKER over
    a row's written head, pack the same 48 bytes as the wire's own little-endian struct, for
    small, negative and clock-sized values."""
    from procviz.engine.worker.wire import PAYLOAD_OFFSET, PAYLOAD_PACKER, ROW_PACKER

    for values in ((3, 3, 4242, 0, 2**62, 2**40, -1, 2**62 - 5), (1, 0, 1, 2**31 + 7, 1, 0, 0, 0),
                   (2, 4, 2**31 - 1, 10**15, 10**18, -(2**63), 2**63 - 1, -1)):
        buf = bytearray(ROW_PACKER.size + 8)
        ROW_PACKER.pack_into(buf, 8, *values)
        assert bytes(buf[8:]) == WIRE_EVENT_STRUCT.pack(*values)
        row = np.frombuffer(bytes(buf[8:]), dtype=WIRE_EVENT_DTYPE)[0]
        assert tuple(int(row[name]) for name in WIRE_EVENT_FIELDS) == values
        # The hot path's way: a row whose first fields were written once, then its payload.
        two = bytearray(ROW_PACKER.pack(*values[:3], 0, 0, 0, 0, 0))
        PAYLOAD_PACKER.pack_into(two, PAYLOAD_OFFSET, *values[3:])
        assert bytes(two) == WIRE_EVENT_STRUCT.pack(*values)
