"""A repaint of the chart redoes only what changed: the queue plot's axis keeps its drawing while
the peak stays, and the grid's ticks follow the view when it moves (and only then are searched)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from gui_helpers import shown_chart  # noqa: E402
from synthetic import synth_timeline  # noqa: E402

from procviz.engine.events import TaskState  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.gantt import GanttWidget  # noqa: E402


def shown(qtbot, timeline: Timeline) -> GanttWidget:
    w = shown_chart(qtbot, timeline, 900, 500)
    w.flush()
    w.grab()
    return w


def test_the_queue_axis_keeps_its_drawing_while_the_peak_stays_and_follows_a_new_peak(qtbot) -> None:
    tl = synth_timeline(n_tasks=300, n_lanes=3, seed=2)
    final = {name: getattr(tl, name).copy() for name in ("state", "submitted_ns", "start_ns", "end_ns")}
    later = slice(150, None)  # not submitted yet
    tl.state[later], tl.submitted_ns[later], tl.start_ns[later], tl.end_ns[later] = TaskState.PENDING, -1, -1, -1
    w = shown(qtbot, tl)
    queue = w.plot.queue
    axis = queue.getAxis("left")
    assert axis.picture is not None  # drawn once
    top = int(max(queue.peak, 1.0))
    queue.refresh(tl, force=True)  # nothing changed
    assert axis.picture is not None
    for name, column in final.items():  # the rest submitted (at the start, as the first): a new peak
        getattr(tl, name)[later] = column[later]
    tl.touch_tasks(np.arange(tl.n_tasks)[later])
    tl.version += 1
    queue.refresh(tl, force=True)
    assert axis.picture is None  # redrawn at the next paint, with the new top tick
    new_top = int(max(queue.peak, 1.0))
    assert new_top > top
    assert [value for value, _ in axis._tickLevels[0]] == [0.0, float(new_top)]  # noqa: SLF001


def test_the_grid_follows_the_view_when_it_moves(qtbot) -> None:
    tl = synth_timeline(n_tasks=300, n_lanes=3, seed=2)
    w = shown(qtbot, tl)
    item = w.item
    (x0, x1), _ = w.view_box.viewRange()
    before = item._grid_ticks  # noqa: SLF001 - (view key, tick levels) of the last paint
    assert before[0][:2] == (x0, x1)
    w.view_box.setXRange(x0, x0 + (x1 - x0) / 7, padding=0)
    w.grab()
    (y0, y1), _ = w.view_box.viewRange()
    after = item._grid_ticks  # noqa: SLF001
    assert after[0][:2] == (y0, y1) and after[1] != before[1]
    assert after[1] == w.plot.main.getAxis("bottom").tickValues(y0, y1, w.view_box.width())[:2]
