"""GanttWidget with real Timelines: rows, bars, clicks, tooltips, follow mode, keys, colours."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gui_helpers import EVENT_BOUND_MS  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from synthetic import MS, T0, synth_batches, synth_timeline  # noqa: E402

from procviz.engine.events import EngineBatch, LaneInfo, TaskState, WorkerState  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui import colors  # noqa: E402
from procviz.gui.gantt import GanttWidget, layout  # noqa: E402
from procviz.gui.gantt.tooltip import lane_labels  # noqa: E402


def show(qtbot, timeline: Timeline, width: int = 1200, height: int = 700) -> GanttWidget:
    w = GanttWidget(timeline)
    qtbot.addWidget(w)
    w.resize(width, height)
    w.show()
    qtbot.waitExposed(w)
    w.zoom_to_fit()
    return w


def widget_point(w: GanttWidget, x: float, y: float) -> QPoint:
    """Viewport pixel of a data point (seconds, row units)."""
    scene = w.view_box.mapViewToScene(QPointF(x, y))
    return w.plot.mapFromScene(scene)


def bar_point(w: GanttWidget, tl: Timeline, tid: int) -> QPoint:
    x = ((tl.start_ns[tid] + tl.end_ns[tid]) / 2 - tl.t0_ns) * 1e-9
    return widget_point(w, x, tl.lane[tid] + layout.BAR_TOP + layout.BAR_HEIGHT / 2)


def pixel(w: GanttWidget, image: QImage, x: float, y: float) -> str:
    p = w.plot.viewport().mapTo(w, widget_point(w, x, y))
    return image.pixelColor(p).name().upper()


@pytest.fixture
def timeline() -> Timeline:
    return synth_timeline(n_tasks=200, n_lanes=4, chunksize=3, failed=(10,), timeout=(77,), cancelled=(20,),
                          spans=3, exit_lanes=(3,), min_ms=1.0)


def test_one_labelled_row_per_lane(qtbot, timeline):
    w = show(qtbot, timeline)
    assert w.lane_axis.labels == [f"worker {i} · pid {4000 + i}" for i in range(4)]
    (_, _), (y0, y1) = w.view_box.viewRange()
    ticks = w.lane_axis.tickValues(y0, y1, 600)[0][1]
    assert ticks == [0.5, 1.5, 2.5, 3.5]
    assert w.lane_axis.tickStrings(ticks, 1.0, 1.0) == w.lane_axis.labels


def test_lane_labels_for_threads_and_the_parent():
    lanes = [LaneInfo(0, 10, 11, "thread", ""), LaneInfo(1, 10, 12, "thread", ""),
             LaneInfo(2, 10, 13, "parent", ""), LaneInfo(3, 20, 20, "process", ""),
             LaneInfo(4, 21, 21, "process", "")]
    assert lane_labels(lanes) == ["thread 0 · tid 11", "thread 1 · tid 12", "parent · callbacks",
                                  "worker 0 · pid 20", "worker 1 · pid 21"]


def test_at_full_zoom_every_started_task_is_one_rectangle(qtbot):
    tl = synth_timeline(n_tasks=24, n_lanes=4, min_ms=2.0, unstarted_cancelled=(5,))
    w = show(qtbot, tl)
    assert w.item.visible_rect_count() == 23
    assert sorted(w.item.frame().tasks.key) == [i for i in range(24) if i != 5]


def test_zoomed_in_only_tasks_in_the_x_range_are_drawn(qtbot, timeline):
    w = show(qtbot, timeline)
    lo, hi = 0.10, 0.16
    w.view_box.setXRange(lo, hi, padding=0)
    x0 = (timeline.start_ns - T0) * 1e-9
    x1 = (timeline.end_ns - T0) * 1e-9
    expected = np.flatnonzero((timeline.start_ns >= 0) & (x1 > lo) & (x0 < hi))
    keys = w.item.frame().tasks.key
    assert sorted(keys) == sorted(expected)
    assert w.item.visible_rect_count() == len(expected)


def test_zoomed_out_a_million_bars_paint_as_a_few_rectangles(qtbot):
    tl = synth_timeline(n_tasks=100_000, n_lanes=4, mean_ms=0.5, intervals=False)
    w = show(qtbot, tl, width=800, height=400)
    count = w.item.visible_rect_count()
    assert 0 < count < 4 * 800


def test_clicking_a_bar_emits_its_task_id(qtbot, timeline):
    w = show(qtbot, timeline)
    for tid in (10, 123):
        with qtbot.waitSignal(w.taskClicked, timeout=EVENT_BOUND_MS) as blocker:
            qtbot.mouseClick(w.plot.viewport(), Qt.MouseButton.LeftButton, pos=bar_point(w, timeline, tid))
        assert blocker.args == [tid]


def test_clicking_between_rows_emits_nothing(qtbot, timeline):
    w = show(qtbot, timeline)
    got = []
    w.taskClicked.connect(got.append)
    x = ((timeline.start_ns[10] - T0) * 1e-9)
    qtbot.mouseClick(w.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=widget_point(w, x, timeline.lane[10] + 0.02))
    qtbot.wait(50)
    assert got == []


def test_hover_tooltip_names_the_task_and_its_pid(qtbot, timeline):
    w = show(qtbot, timeline)
    hovered = []
    w.taskHovered.connect(hovered.append)
    qtbot.mouseMove(w.plot.viewport(), bar_point(w, timeline, 10))
    qtbot.waitUntil(lambda: w.item.toolTip() != "", timeout=EVENT_BOUND_MS)
    text = w.item.toolTip()
    assert "task 10" in text
    assert f"pid {timeline.lanes[timeline.lane[10]].pid}" in text
    assert "failed" in text and "bad input 10" in text
    assert hovered and hovered[-1] == 10


def test_tooltip_over_the_strip_names_the_state(qtbot, timeline):
    w = show(qtbot, timeline)
    info = timeline.lanes[0]
    x = ((info.created_ns + info.ready_ns) / 2 - T0) * 1e-9
    text = w.item.tooltip_at(QPointF(x, 0 + layout.STRIP_TOP + layout.STRIP_HEIGHT / 2))
    assert "new" in text and "worker 0 · pid 4000" in text


def test_state_strip_and_bars_use_the_palette(qtbot, timeline):
    w = show(qtbot, timeline)
    image = w.grab().toImage()
    strip_y = layout.STRIP_TOP + layout.STRIP_HEIGHT / 2
    info = timeline.lanes[0]
    new_x = ((info.created_ns + info.ready_ns) / 2 - T0) * 1e-9
    assert pixel(w, image, new_x, strip_y) == colors.WORKER_STATE_COLORS[WorkerState.NEW]
    iv = timeline.intervals.data
    longest = {}
    for state in (WorkerState.RUNNING, WorkerState.WAITING, WorkerState.READY):
        rows = iv[(iv["lane"] == 1) & (iv["state"] == state)]
        longest[state] = rows[np.argmax(rows["end_ns"] - rows["start_ns"])]
    for state, row in longest.items():
        x = ((row["start_ns"] + row["end_ns"]) / 2 - T0) * 1e-9
        assert pixel(w, image, x, 1 + strip_y) == colors.WORKER_STATE_COLORS[state], state
    bar_y = layout.BAR_TOP + layout.BAR_HEIGHT / 2
    for tid, state in ((10, TaskState.FAILED), (77, TaskState.TIMEOUT)):
        x = ((timeline.start_ns[tid] + timeline.end_ns[tid]) / 2 - T0) * 1e-9
        assert pixel(w, image, x, timeline.lane[tid] + bar_y) == colors.TASK_STATE_COLORS[state]


def test_follow_mode_keeps_the_live_edge_in_view(qtbot):
    batches = synth_batches(n_tasks=400, n_lanes=2, batches=8, running=1)
    tl = Timeline()
    tl.apply(batches[0])
    w = show(qtbot, tl)
    w.view_box.setXRange(0.0, 0.05, padding=0)
    w.set_follow(True)
    for batch in batches[1:]:
        tl.apply(batch)
        w.flush()
        x0, x1 = w.view_box.viewRange()[0]
        assert x0 <= w.model.now_x <= x1
        assert x1 - x0 == pytest.approx(0.05)
    assert w.view_box.viewRange()[0][0] > 0.5  # it really moved


def test_panning_by_hand_stops_follow_mode(qtbot, timeline):
    w = show(qtbot, timeline)
    w.set_follow(True)
    with qtbot.waitSignal(w.followChanged, timeout=EVENT_BOUND_MS) as blocker:
        qtbot.keyClick(w.plot, Qt.Key.Key_Left)
    assert blocker.args == [False]
    assert not w.follow()


def test_keys_zoom_pan_and_fit(qtbot, timeline):
    w = show(qtbot, timeline)
    (a, b), _ = w.view_box.viewRange()
    qtbot.keyClick(w.plot, Qt.Key.Key_Plus)
    (c, d), _ = w.view_box.viewRange()
    assert d - c == pytest.approx((b - a) / 1.5, rel=1e-3)
    qtbot.keyClick(w.plot, Qt.Key.Key_Right)
    (e, f), _ = w.view_box.viewRange()
    assert e > c and f - e == pytest.approx(d - c, rel=1e-3)
    qtbot.keyClick(w.plot, Qt.Key.Key_Minus)
    qtbot.keyClick(w.plot, Qt.Key.Key_Minus)
    (g, h), _ = w.view_box.viewRange()
    assert h - g > d - c
    qtbot.keyClick(w.plot, Qt.Key.Key_Home)
    assert w.view_box.viewRange()[0] == pytest.approx([a, b], rel=1e-6)


def test_batches_are_folded_in_once_per_event_loop_turn_without_a_rebuild(qtbot):
    batches = synth_batches(n_tasks=300, n_lanes=3, batches=6)
    tl = Timeline()
    tl.apply(batches[0])
    w = show(qtbot, tl)
    series_before = list(w.model.tasks)
    version = w.model.version
    for batch in batches[1:]:
        tl.apply(batch)
    assert w.model.version == version  # nothing done inside apply()
    qtbot.waitUntil(lambda: w.model.version != version, timeout=EVENT_BOUND_MS)
    assert w.model.version == version + 1  # five batches, one sync
    assert all(a is b for a, b in zip(series_before, w.model.tasks, strict=True))  # no rebuild
    assert sum(len(s) for s in w.model.tasks) == 300


def test_a_new_run_resets_the_chart(qtbot, timeline):
    w = show(qtbot, timeline)
    for batch in synth_batches(n_tasks=30, n_lanes=2, seed=5):
        timeline.apply(batch)
    w.flush()
    assert w.model.lane_count == 2
    assert sum(len(s) for s in w.model.tasks) == 30  # the old run's 200 bars are gone
    assert 0 < w.item.visible_rect_count() <= 30
    assert w.lane_axis.labels == ["worker 0 · pid 4000", "worker 1 · pid 4001"]


def test_legend_lists_the_five_worker_states_and_task_outcomes(qtbot, timeline):
    w = show(qtbot, timeline)
    entries = {(e.text, e.color) for e in w.legend.entries}
    for state in WorkerState:
        assert (state.name.lower(), colors.WORKER_STATE_COLORS[state]) in entries
    for state in (TaskState.DONE, TaskState.FAILED, TaskState.TIMEOUT, TaskState.CANCELLED, TaskState.RUNNING):
        assert (colors.TASK_STATE_LABELS[state], colors.TASK_STATE_COLORS[state]) in entries
    assert w.legend.height() > 0


def test_live_batches_grow_running_bars(qtbot):
    tl = Timeline()
    batches = synth_batches(n_tasks=50, n_lanes=2, running=2, batches=2)
    for b in batches:
        tl.apply(b)
    w = show(qtbot, tl)
    assert w.model.live
    before = w.item.boundingRect().right()
    tl.apply(EngineBatch(now_ns=tl.now_ns + 200 * MS))
    w.flush()
    assert w.item.boundingRect().right() == pytest.approx(before + 0.2, abs=1e-6)


def test_an_empty_timeline_shows_an_empty_chart(qtbot):
    w = show(qtbot, Timeline())
    assert w.model.lane_count == 0
    assert w.item.visible_rect_count() == 0
    assert not w.grab().isNull()


def test_bars_on_a_lane_announced_later_get_a_row(qtbot):
    batches = synth_batches(n_tasks=40, n_lanes=3)
    tl = Timeline()
    tl.apply(EngineBatch(run=batches[0].run, lanes=batches[0].lanes[:2], submitted=batches[0].submitted,
                         started=batches[0].started, ended=batches[0].ended, now_ns=batches[0].now_ns))
    w = show(qtbot, tl)
    assert w.model.lane_count == 3
    assert w.lane_axis.labels[2] == "lane 2"  # until its LaneInfo arrives
    tl.apply(EngineBatch(lanes=batches[0].lanes[2:]))
    w.flush()
    assert w.lane_axis.labels[2] == "worker 2 · pid 4002"


def test_resizing_keeps_the_whole_run_in_view_until_the_user_zooms(qtbot, timeline):
    w = show(qtbot, timeline)
    lo, hi = w.model.x_extent()
    w.resize(600, 300)
    qtbot.waitUntil(lambda: w.view_box.width() < 600, timeout=EVENT_BOUND_MS)
    x0, x1 = w.view_box.viewRange()[0]
    assert x0 <= lo and x1 >= hi
    qtbot.keyClick(w.plot, Qt.Key.Key_Plus)
    zoomed = w.view_box.viewRange()[0]
    w.resize(700, 350)
    qtbot.wait(50)
    assert w.view_box.viewRange()[0] == pytest.approx(zoomed)
