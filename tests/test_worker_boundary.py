"""Consecutive short tasks of a chunk share one clock boundary; procviz's own work stays outside.

In the loop for tasks shorter than ``FINE_NS`` (instrument._run_coarse), one reading of the
monotonic clock ends a task and starts the next one, and the thread's CPU clock (a system call) is
read once per group of tasks (``GROUP_NS`` of wall time). After procviz's slower work between two
tasks (a text made, a batch sent, a new room in the ring, a group's CPU reading) the next task
starts from a fresh reading instead, and a task of at least ``FINE_NS`` hands over to the
schedstat loop, whose tasks start from readings of their own. These tests run real chunks in this
process, read the rows its Recorder sends, and check the invariants on every task: on-CPU at most
wall (or unmeasured), the task and its start stored before its call, shared boundaries except
where a slow part or a group's end came between, and no send or text inside a task's window.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from worker_helpers import Sink, connected_sink, wire_rows

from procviz.engine.worker import instrument, recorder
from procviz.engine.worker.wire import EventKind, TaskState

FAIL_EVERY = 997  # tasks whose id is a multiple of this raise
RESULT_EVERY = 1009  # tasks whose id is a multiple of this return a value to report
SLEEP_IDS = {3, 4}  # tasks of the hand-over chunk that last longer than FINE_NS

seen: list[tuple[int, int, int]] = []  # (task id, the meter's start, the slot's task) inside each call
formatted: list[int] = []  # when a failure's or a result's text was last being made (monotonic ns)


class _Refused(Exception):
    """A failure whose message notes when it is formatted (as its task's text is made)."""

    def __str__(self) -> str:
        formatted.append(time.monotonic_ns())
        return "refused"


class _Value:
    """A result whose repr notes when it is made (as its task's text is)."""

    def __repr__(self) -> str:
        formatted.append(time.monotonic_ns())
        return "<value>"


def _peek(task_id: int) -> None:
    meter = instrument._meter()  # noqa: SLF001 - what a flush and a crash would read, as the task runs
    seen.append((task_id, meter.ids[1], meter.ids[0]))


def tiny(task_id: int) -> _Value | None:
    """A no-op task that now and then fails or returns a value to report (module level: by name)."""
    _peek(task_id)
    if task_id % FAIL_EVERY == 0:
        raise _Refused()
    return _Value() if task_id % RESULT_EVERY == 0 else None


def tiny_or_long(task_id: int) -> None:
    """Tasks of ``SLEEP_IDS`` sleep 1 ms (longer than FINE_NS); the others do nothing."""
    _peek(task_id)
    if task_id in SLEEP_IDS:
        time.sleep(0.001)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    """A Recorder of this process connected to a fresh sink; closed (goodbye sent) after the test."""
    seen.clear()
    formatted.clear()
    yield from connected_sink(tmp_path)


@pytest.fixture
def coarse_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every task counts as short (no hand-over under load) and this thread begins in the coarse loop."""
    monkeypatch.setattr(instrument, "FINE_NS", 1 << 62)
    monkeypatch.setattr(instrument._meter(), "fine", False)  # noqa: SLF001
    monkeypatch.setattr(instrument._meter(), "solo", 0)  # noqa: SLF001 - groups from the first task
    monkeypatch.setattr(instrument._meter(), "backoff", recorder.SOLO_TASKS)  # noqa: SLF001


def _spans(batches: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    rows = wire_rows(batches)
    return rows[rows["kind"] == EventKind.SPAN], rows[rows["kind"] == EventKind.START]


def _check_stored_before_the_call(spans: np.ndarray, starts: np.ndarray) -> None:
    """Inside its call, each task was in the slot and its start in the meter (what a crash and a
    flush read), that start the one its row carries; a START a flush sent carries it too."""
    start_of = dict(zip(spans["task_id"].tolist(), spans["spare"].tolist(), strict=True))
    assert [(t, start_of[t], t) for t, _, _ in seen] == seen
    assert all(start_of[t] == t0 for t, t0 in zip(starts["task_id"].tolist(), starts["t_ns"].tolist(), strict=True))


def _run_tiny_chunks(sink: Sink, monkeypatch: pytest.MonkeyPatch, n: int, chunk: int) -> dict[str, Any]:
    """Run ``tiny`` over ``n`` tasks in chunks; note where the recording thread sent, and after
    which rows it looked for room in its ring (the loop's slow part, without a text). No send on
    a timer (the flusher's, a chunk's end): the recording thread sends each batch's worth of rows
    itself, from the loop, however fast the tasks run."""
    monkeypatch.setattr(recorder, "FLUSH_NS", 1 << 62)
    monkeypatch.setattr(instrument, "FLUSH_NS", 1 << 62)
    rec = instrument.recorder()
    assert rec is not None
    sends: list[tuple[int, int]] = []
    rooms: list[int] = []
    send, room = rec._sender.send, recorder.ThreadMeter.room  # noqa: SLF001
    recording = instrument._meter()  # noqa: SLF001

    def noted_send(batch: Any) -> None:
        t0 = time.monotonic_ns()
        send(batch)
        if instrument._meter() is recording:  # noqa: SLF001 - the recording thread's, not the flusher's
            sends.append((t0, time.monotonic_ns()))

    def noted_room(meter: recorder.ThreadMeter, off: int) -> tuple[int, int]:
        rooms.append(off // recorder.ROW - 1)  # the row written last before the slow part
        return room(meter, off)

    monkeypatch.setattr(rec._sender, "send", noted_send)  # noqa: SLF001
    monkeypatch.setattr(recorder.ThreadMeter, "room", noted_room)
    for start in range(0, n, chunk):
        ids = range(start, min(start + chunk, n))
        instrument.run_chunk(f"{__name__}:tiny", True, (ids, None, [(t,) for t in ids]))
    instrument.disconnect_threads()
    batches = sink.close()
    spans, starts = _spans(batches)
    return {"spans": spans, "starts": starts, "sends": sends, "rooms": rooms,
            "texts": [text for b in batches for text in b.texts]}


@pytest.mark.usefixtures("coarse_only")
def test_consecutive_tiny_tasks_share_a_boundary_and_none_has_more_cpu_than_wall(
        sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 2 * recorder.RING_ROWS + 321  # rooms looked for, batches sent, the ring wrapped
    got = _run_tiny_chunks(sink, monkeypatch, n, 1000)
    spans = got["spans"]
    assert spans["task_id"].tolist() == list(range(n))
    wall, cpu = spans["t_ns"] - spans["spare"], spans["cpu_ns"]
    measured = cpu >= 0  # else -1: a short task in a group that was off CPU for longer than it
    assert (measured | (cpu == -1)).all() and (cpu <= wall).all() and measured.sum() > n // 2
    assert (spans["ready_ns"] == -1).all()  # the coarse loop: run-queue wait unmeasured
    _check_stored_before_the_call(spans, got["starts"])
    # A boundary is shared unless the loop's slow part came between (a failure's or a result's
    # text, or a look for room in the ring: a chunk's start, a batch's worth of rows, the ring's
    # end) or a group of tasks closed (its CPU clock read: once per GROUP_NS of wall time, or
    # after each task for a while after a group found off CPU).
    slow = set(got["rooms"]) | {t for t in range(n) if t % FAIL_EVERY == 0 or t % RESULT_EVERY == 0}
    after = np.array([t in slow for t in range(n - 1)])
    shared = spans["spare"][1:] == spans["t_ns"][:-1]
    assert shared[~after].sum() > n // 2
    assert (spans["spare"][1:][~shared] > spans["t_ns"][:-1][~shared]).all()  # a fresh reading after it


@pytest.mark.usefixtures("coarse_only")
def test_no_send_nor_text_of_procviz_falls_in_a_tasks_window(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    """What procviz does between tasks is its own cost: a task's window holds none of its
    recording thread's sends and none of the texts made of failures and results."""
    n = 2 * recorder.RING_ROWS + 321
    got = _run_tiny_chunks(sink, monkeypatch, n, 1000)
    spans = got["spans"]
    busy = got["sends"] + [(t, t) for t in formatted]
    assert len(got["sends"]) >= n // recorder.FLUSH_ROWS and len(formatted) >= 2 * (n // FAIL_EVERY)
    begin, end = spans["spare"], spans["t_ns"]
    for t0, t1 in busy:
        assert not ((begin < t1) & (end > t0)).any(), "procviz's work inside a task's window"
    assert sorted(text.task_id for text in got["texts"]) == [
        t for t in range(n) if t % FAIL_EVERY == 0 or t % RESULT_EVERY == 0]


@pytest.mark.usefixtures("coarse_only")
def test_a_failed_task_in_the_middle_of_a_chunk_keeps_its_text_and_its_neighbours_windows(
        sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    # One group for the chunk: a group's close also starts the next task afresh (see the test
    # above), and 9 tiny tasks outlast GROUP_NS on a slower machine (it failed 4 runs in 5 there).
    monkeypatch.setattr(instrument, "GROUP_NS", 1 << 62)
    ids = range(FAIL_EVERY - 4, FAIL_EVERY + 5)  # the middle one fails
    instrument.run_chunk(f"{__name__}:tiny", True, (ids, None, [(t,) for t in ids]))
    instrument.disconnect_threads()
    batches = sink.close()
    spans, starts = _spans(batches)
    assert spans["task_id"].tolist() == list(ids)
    status = spans["status"].tolist()
    assert status[4] == TaskState.FAILED and status[:4] + status[5:] == [TaskState.DONE] * 8
    texts = [text for b in batches for text in b.texts]
    assert [(text.task_id, text.kind, text.type_name, text.message) for text in texts] == [
        (FAIL_EVERY, "error", "_Refused", "refused")]
    begin, end = spans["spare"], spans["t_ns"]
    assert (begin[1:5] == end[:4]).all()  # up to the failed one: shared boundaries
    assert begin[5] > end[4] and begin[5] >= max(formatted)  # after its text: a fresh start
    assert (begin[6:] == end[5:-1]).all()
    assert (spans["cpu_ns"] <= end - begin).all()
    _check_stored_before_the_call(spans, starts)


def test_a_long_task_after_short_ones_hands_over_to_the_fine_loop_with_a_fresh_start(
        sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loops hand over by each task's wall time (FINE_NS), however long the no-op tasks
    last under load: each row is checked against the loop its task ran in."""
    meter = instrument._meter()  # noqa: SLF001
    if meter.fd < 0:
        pytest.skip("no /proc/thread-self/schedstat: one loop only")
    monkeypatch.setattr(meter, "fine", False)
    ids = range(9)
    instrument.run_chunk(f"{__name__}:tiny_or_long", False, (ids, None, [(t,) for t in ids]))
    instrument.disconnect_threads()
    spans, starts = _spans(sink.close())
    assert spans["task_id"].tolist() == list(ids)
    begin, end, ready = spans["spare"], spans["t_ns"], spans["ready_ns"]
    wall = end - begin
    assert (spans["cpu_ns"] <= wall).all()
    fine = was_fine = False  # the loop task k ran in, and task k - 1
    for k in ids:
        if fine or wall[k] >= instrument.FINE_NS:
            # schedstat read: run-queue wait measured (in the short tasks' loop, a long task has it
            # from its group's readings: it follows a tiny task here, so it is pinned down closely)
            assert 0 <= ready[k] <= wall[k] - spans["cpu_ns"][k]
        else:
            assert ready[k] == -1
        if k > 0:  # the coarse loop continues the previous task's boundary (unless a group of
            # tasks closed between: a fresh one then); a hand-over starts afresh
            assert begin[k] >= end[k - 1] if (not fine and not was_fine) else begin[k] > end[k - 1]
        was_fine, fine = fine, bool(wall[k] >= instrument.FINE_NS)
    assert ready[4] >= 0 and begin[4] > end[3]  # the task after the first long one: in the fine loop
    _check_stored_before_the_call(spans, starts)


def sleepy(task_id: int) -> None:
    """Task 10 of its chunk sleeps 3 ms (off CPU); the others do nothing."""
    if task_id == 10:
        time.sleep(0.003)


@pytest.mark.usefixtures("coarse_only")
def test_a_group_off_cpu_pins_each_task_or_says_unmeasured(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task that sleeps inside a group of short tasks: the group's CPU reading pins the sleeper's
    on-CPU time (its neighbours together take less than 1/16 of its wall), far below its wall;
    the short tasks of its group say on-CPU unmeasured (-1) rather than wall or a share, and the
    tasks of other groups are measured."""
    monkeypatch.setattr(instrument, "GROUP_NS", 1 << 40)  # the whole chunk in one group, the sleeper in it
    ids = range(21)
    instrument.run_chunk(f"{__name__}:sleepy", False, (ids, None, [(t,) for t in ids]))
    instrument.disconnect_threads()
    spans, _ = _spans(sink.close())
    wall, cpu = spans["t_ns"] - spans["spare"], spans["cpu_ns"]
    assert spans["task_id"].tolist() == list(ids)
    assert 0 <= cpu[10] < wall[10] // 2, (cpu[10], wall[10])
    others = np.delete(cpu, 10)
    assert (others == -1).all(), others  # off CPU for longer than any of them lasted


@pytest.mark.usefixtures("coarse_only")
def test_a_group_on_cpu_throughout_gives_each_task_its_wall(sink: Sink) -> None:
    """Groups on CPU throughout (nothing sleeps; a rare preemption aside): each task's on-CPU
    time is its wall time, read from one CPU clock reading per group."""
    ids = range(5000)
    instrument.run_chunk(f"{__name__}:sleepy", False, (ids[11:], None, [(t,) for t in ids[11:]]))
    instrument.disconnect_threads()
    spans, _ = _spans(sink.close())
    wall, cpu = spans["t_ns"] - spans["spare"], spans["cpu_ns"]
    measured = cpu >= 0
    assert measured.mean() > 0.5 and (cpu[measured] <= wall[measured]).all()
    assert (cpu[measured] == wall[measured]).mean() > 0.5


def blocky(task_id: int) -> None:
    """Sleeps 100 us: off CPU for most of its wall time, every task."""
    time.sleep(0.0001)


@pytest.mark.usefixtures("coarse_only")
def test_short_tasks_that_each_block_stay_measured(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short tasks that each spend most of their time off CPU: a group of them cannot pin any
    one task's on-CPU time (unmeasured), so the loop reads them one by one for a while after such
    a group, and tries a group again later, less and less often: most tasks stay measured, none
    over its wall time."""
    monkeypatch.setattr(instrument, "GROUP_NS", 2_000_000)  # groups of several of these tasks
    ids = range(600)
    instrument.run_chunk(f"{__name__}:blocky", False, (ids, None, [(t,) for t in ids]))
    instrument.disconnect_threads()
    spans, _ = _spans(sink.close())
    wall, cpu = spans["t_ns"] - spans["spare"], spans["cpu_ns"]
    measured = cpu >= 0
    assert (cpu[measured] <= wall[measured]).all()
    assert (cpu[measured] < wall[measured] // 2).mean() > 0.9  # they slept: on-CPU far below wall
    assert measured.mean() > 0.8, f"{(~measured).sum()} of {len(cpu)} unmeasured"


@pytest.mark.parametrize("schedstat", [True, False])
def test_the_summary_says_what_short_tasks_leave_unmeasured(schedstat: bool) -> None:
    """Tasks that ran with on-CPU unmeasured (-1) are left out of the on-CPU sums, and said so;
    a task with ready unmeasured on a host that measures it (under FINE_NS) that was off CPU has
    that time in neither ready nor waiting, said apart; without schedstat, waiting has it all."""
    from procviz.engine.metrics import compute_metrics
    from procviz.engine.timeline import RunInfo, Timeline

    tl = Timeline()
    tl.begin(RunInfo(n_tasks=4, t0_ns=0, config={"workers": 1, "workload": {"kind": "cpu"}}, host="h",
                     cpu_count=2, schedstat=schedstat))
    ids = np.arange(4)
    tl.mark_submitted(ids, 0)
    tl.write_starts(ids, np.zeros(4, np.int32), np.array([10, 20, 30, 50]))
    tl.write_ends(ids, np.full(4, TaskState.DONE, np.uint8), np.array([20, 30, 50, 60]),
                  np.array([10, -1, 10, -1]), np.full(4, -1), np.zeros(4, np.int32))
    m = compute_metrics(tl)
    lines = "\n".join(m.summary_lines())
    assert m.cpu_unmeasured == 2 and m.cpu_ns == 20
    assert "on-CPU 0.000 s (2 tasks not measured)" in lines
    assert "the 2 not measured are in none of these sums" in lines  # nor in ready's and waiting's
    from procviz.gui.panels.metrics_panel import summary_texts

    texts = summary_texts(m)
    assert "(2 tasks not measured)" in texts["waiting"]
    if schedstat:  # task 2: 20 ns of wall, 10 on CPU, the other 10 not split
        assert tl.waiting_ns().tolist() == [0, -1, -1, -1] and m.waiting_ns == 0 and m.unsplit_ns == 10
        assert "not split into ready and waiting" in lines
    else:
        assert tl.waiting_ns().tolist() == [0, -1, 10, -1] and m.waiting_ns == 10 and m.unsplit_ns == 0
        assert "not split" not in lines
