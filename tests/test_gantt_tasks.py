"""Every task distinguishable: boundaries, chunk grouping only where chunks exist, labels, selection, search."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from gui_helpers import EVENT_BOUND_MS  # noqa: E402
from PySide6.QtGui import QColor, QImage  # noqa: E402
from synthetic import synth_batches, synth_timeline  # noqa: E402
from test_gantt_widget import show, widget_point  # noqa: E402

from procviz.engine.events import TaskState  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui import colors  # noqa: E402
from procviz.gui.gantt import GanttWidget, layout  # noqa: E402
from procviz.gui.gantt.model import chunk_groups  # noqa: E402
from procviz.gui.panels.task_query import QueryError, parse_query  # noqa: E402

DONE_COLOURS = {QColor(colors.TASK_STATE_COLORS[TaskState.DONE]).rgb(), QColor(colors.DONE_ALT_COLOR).rgb()}


def bar_runs(w: GanttWidget, image: QImage, lane: int, colours: set[int]) -> list[tuple[int, int]]:
    """Runs of bar-coloured pixels along ``lane``'s bar band, above its labels (x from, x to)."""
    vp = w.plot.viewport()
    (x0, x1), _ = w.view_box.viewRange()
    y = layout.BAR_TOP + layout.BAR_HEIGHT * 0.08 + lane
    left = vp.mapTo(w, widget_point(w, x0, y))
    right = vp.mapTo(w, widget_point(w, x1, y))
    inside = [image.pixelColor(px, left.y()).rgb() in colours for px in range(max(left.x(), 0), right.x())]
    runs, start = [], None
    for i, hit in enumerate(inside + [False]):
        if hit and start is None:
            start = i
        elif not hit and start is not None:
            runs.append((start, i))
            start = None
    return runs


def back_to_back(n: int, chunksize: int, gap_ns: int = 1000) -> Timeline:
    """One worker running ``n`` 1 s tasks with microsecond gaps, in chunks of ``chunksize``."""
    batches = synth_batches(n_tasks=n, n_lanes=1, chunksize=chunksize, mean_ms=1000.0, min_ms=1000.0,
                            gap_ms=gap_ns / 1e6, intervals=False)
    tl = Timeline()
    for b in batches:
        tl.apply(b)
    # Exactly 1 s each, back to back: the case where bars used to fuse into blocks.
    t = tl.t0_ns + 50_000_000 + np.arange(n, dtype=np.int64) * (1_000_000_000 + gap_ns)
    tl.start_ns[:] = t
    tl.end_ns[:] = t + 1_000_000_000
    return tl


def test_ten_back_to_back_tasks_in_chunks_show_ten_boundaries(qtbot):
    tl = back_to_back(10, chunksize=3)
    w = show(qtbot, tl, width=1280, height=500)
    runs = bar_runs(w, w.grab().toImage(), 0, DONE_COLOURS)
    assert len(runs) == 10, runs


def test_apply_like_runs_have_no_chunk_grouping_but_map_chunks_do():
    assert np.all(chunk_groups(np.arange(5)) == -1)  # apply / apply_async: a chunk per task
    np.testing.assert_array_equal(chunk_groups(np.array([0, 0, 0, 1, 1, 2])), [0, 0, 0, 1, 1, -1])


def test_single_task_chunks_paint_in_one_shade(qtbot):
    tl = back_to_back(6, chunksize=1)
    w = show(qtbot, tl, width=1000, height=400)
    image = w.grab().toImage()
    alt = bar_runs(w, image, 0, {QColor(colors.DONE_ALT_COLOR).rgb()})
    assert alt == []
    assert len(bar_runs(w, image, 0, DONE_COLOURS)) == 6


def test_wide_bars_carry_their_task_id(qtbot):
    tl = back_to_back(5, chunksize=1)
    w = show(qtbot, tl, width=1000, height=400)
    w.grab()
    assert w.item.labels_drawn == 5


def test_selected_bar_is_outlined_in_the_ink_colour(qtbot):
    tl = synth_timeline(n_tasks=40, n_lanes=2, min_ms=5.0)
    w = show(qtbot, tl)
    before = w.grab().toImage()
    w.select_task(7)
    after = w.grab().toImage()
    assert w.selected_task() == 7
    x = (tl.start_ns[7] - tl.t0_ns) * 1e-9
    ink = w.palette().color(w.palette().ColorRole.Text).rgb()
    p = w.plot.viewport().mapTo(w, widget_point(w, x, tl.lane[7] + layout.BAR_TOP + layout.BAR_HEIGHT / 2))
    column = [after.pixelColor(p.x() + dx, p.y()).rgb() for dx in range(-2, 3)]
    assert ink in column
    assert before != after


def test_revealing_a_task_brings_its_bar_into_view(qtbot):
    tl = synth_timeline(n_tasks=400, n_lanes=4, min_ms=1.0)
    w = show(qtbot, tl)
    w.view_box.setXRange(0.0, 0.01, padding=0)  # zoomed in far from the last tasks
    last = int(np.argmax(tl.start_ns))
    assert not w.bar_in_view(last)
    w.select_task(last, reveal=True)
    assert w.bar_in_view(last)


def test_search_language():
    tl = synth_timeline(n_tasks=50, n_lanes=3, failed=(4, 11), cancelled=(7,))  # lanes 1 and 2
    assert np.flatnonzero(parse_query("failed").mask(tl)).tolist() == [4, 11]
    assert np.flatnonzero(parse_query("3 5-6").mask(tl)).tolist() == [3, 5, 6]
    on_worker_1 = np.flatnonzero(parse_query("worker 1").mask(tl))
    assert len(on_worker_1) and np.all(tl.lane[on_worker_1] == 1)
    assert np.flatnonzero(parse_query(f"fail pid {tl.lanes[int(tl.lane[11])].pid}").mask(tl)).tolist() == [11]
    assert parse_query("  ").empty
    for bad in ("banana", "worker", "pid x"):
        try:
            parse_query(bad)
        except QueryError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_search_matches_are_outlined_in_the_chart(qtbot):
    tl = synth_timeline(n_tasks=40, n_lanes=2, min_ms=5.0, failed=(3,))
    w = show(qtbot, tl)
    before = w.grab().toImage()
    w.set_matches(np.array([3]))
    assert w.grab().toImage() != before


def test_terminated_strip_tooltip_says_how_the_worker_exited(qtbot):
    from dataclasses import replace

    from PySide6.QtCore import QPointF

    tl = synth_timeline(n_tasks=40, n_lanes=2, exit_lanes=(0, 1))
    tl.lanes[1] = replace(tl.lanes[1], exit_code=-9)
    w = show(qtbot, tl)
    y = layout.STRIP_TOP + layout.STRIP_HEIGHT / 2
    texts = [w.item.tooltip_at(QPointF((info.exit_ns - tl.t0_ns) * 1e-9 + 0.001, info.index + y)) for info in tl.lanes]
    assert "terminated" in texts[0] and "exited with code 0" in texts[0]
    assert "killed by SIGKILL" in texts[1]


def test_wait_span_tooltip_gives_its_duration(qtbot):
    from PySide6.QtCore import QPointF

    tl = synth_timeline(n_tasks=40, n_lanes=2, spans=2, min_ms=5.0)
    w = show(qtbot, tl)
    row = tl.spans.data[0]
    x = ((row["start_ns"] + row["end_ns"]) / 2 - tl.t0_ns) * 1e-9
    text = w.item.tooltip_at(QPointF(x, int(row["lane"]) + layout.SPAN_TOP + layout.SPAN_HEIGHT / 2))
    ms = (row["end_ns"] - row["start_ns"]) / 1e6
    assert "waiting in" in text and f"for {ms:.2f} ms" in text


def test_ready_queue_counts_submitted_but_not_started_tasks():
    from procviz.gui.gantt.queue_plot import arrival_times, queue_steps

    tl = synth_timeline(n_tasks=30, n_lanes=3, unstarted_cancelled=(29,), queued=(28,))
    t, n = queue_steps(tl)
    assert n[0] >= 1 and n.max() == 30  # every task is submitted at t0, before any starts
    assert np.all(n >= 0) and np.all(np.diff(t) >= 0)
    assert n[-1] == 1  # task 28 is still queued at the end; 29 left when it was cancelled
    # At a moment in the middle: submitted and not yet started (nor cancelled) by then.
    mid_ns = int(np.median(tl.start_ns[tl.start_ns >= 0]))
    expected = np.count_nonzero((tl.submitted_ns <= mid_ns) & ~((tl.start_ns >= 0) & (tl.start_ns <= mid_ns)))
    at = np.searchsorted(t, (mid_ns - tl.t0_ns) * 1e-9, side="right") - 1
    assert n[at] == expected
    assert len(arrival_times(tl)) == 1  # one submission instant


def test_the_chart_shows_the_ready_queue_above_the_lanes(qtbot):
    tl = synth_timeline(n_tasks=60, n_lanes=2)
    w = show(qtbot, tl)
    assert w.plot.queue.peak == 60
    assert w.plot.queue.getViewBox().viewRange()[0] == w.view_box.viewRange()[0]  # one time axis


def test_a_put_off_queue_refresh_still_happens(qtbot):
    import time

    w = show(qtbot, Timeline())
    queue = w.plot.queue
    tl = synth_timeline(n_tasks=40, n_lanes=2)
    queue._next_at = time.perf_counter() + 0.2  # as if the last refresh were expensive
    assert not queue.refresh(tl)
    qtbot.waitUntil(lambda: queue.peak == 40, timeout=EVENT_BOUND_MS)


def test_the_search_knows_the_legends_word_for_a_running_task():
    tl = synth_timeline(n_tasks=20, n_lanes=2, running=2)
    assert np.flatnonzero(parse_query("in progress").mask(tl)).tolist() == np.flatnonzero(
        tl.state == TaskState.RUNNING).tolist()


def test_tasks_the_engine_ended_before_they_started_leave_the_queue():
    """The engine gives a task it cancelled (a Stop) or failed (a broken pool) before it started
    no end: it left the queue all the same (the line stayed up to the chart's end after a Stop)."""
    from test_timeline_model import two_lane_run

    from procviz.gui.gantt.queue_plot import queue_steps

    tl = two_lane_run()  # task 3: cancelled before it started, end -1, as the engine writes it
    assert tl.start_ns[3] < 0 and tl.end_ns[3] < 0
    t, n = queue_steps(tl)
    assert n[-1] == 0
    left = t[np.flatnonzero(n == 0)[0]]
    assert round(left * 1e9) <= tl.now_ns - tl.t0_ns  # by the timeline's live edge at the latest
