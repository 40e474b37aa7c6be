"""The chart during a live run: one repaint per fold with the queue in it, and a fitted view that
leaves room ahead of the live edge (its time range moves a few times a run, not at every fold)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from gui_helpers import EVENT_BOUND_MS, shown_chart  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from synthetic import synth_batches  # noqa: E402

from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.gantt import GanttWidget  # noqa: E402
from procviz.gui.gantt import widget as gantt_widget  # noqa: E402


def shown(qtbot, tl: Timeline) -> GanttWidget:
    return shown_chart(qtbot, tl)


def test_each_fold_takes_the_queue_events_in_with_it(qtbot, monkeypatch) -> None:
    from procviz.gui.gantt import queue_plot

    monkeypatch.setattr(queue_plot, "COST_FACTOR", 1e6)  # its own pacing would put every refresh off
    tl = Timeline()
    w = shown(qtbot, tl)
    batches = synth_batches(n_tasks=3000, n_lanes=3, batches=6)
    for batch in batches:
        tl.apply(batch)
        w.flush()
        QApplication.processEvents()
        assert w.plot.queue.steps.update(tl) is False  # the fold took every queue event in


def test_a_live_run_is_fitted_with_room_ahead_and_closed_on_at_its_end(qtbot) -> None:
    tl = Timeline()
    w = shown(qtbot, tl)
    w.set_live(True)
    batches = synth_batches(n_tasks=4000, n_lanes=3, batches=40)
    ranges = []
    for batch in batches:
        tl.apply(batch)
        w.flush()
        lo, hi = w.model.x_extent()
        x0, x1 = w.view_box.viewRange()[0]
        assert x0 <= lo and hi <= x1  # the whole run stays in view
        ranges.append((x0, x1))
    assert x1 >= hi + 0.3 * (hi - lo)  # room ahead of the live edge
    moves = sum(a != b for a, b in zip(ranges, ranges[1:], strict=False))
    assert moves <= len(ranges) // 3, moves  # the range moves now and then, not at every fold
    w.set_live(False)  # the run ended: the view closes on it (in the next fold)
    qtbot.waitUntil(lambda: w.view_box.viewRange()[0][1] == pytest.approx(hi + 0.01 * (hi - lo)),
                    timeout=EVENT_BOUND_MS)
    assert w.view_box.viewRange()[0][0] <= lo


def test_a_view_the_user_moved_stays_where_it_is_when_the_run_ends(qtbot) -> None:
    tl = Timeline()
    w = shown(qtbot, tl)
    w.set_live(True)
    for batch in synth_batches(n_tasks=500, n_lanes=2, batches=5):
        tl.apply(batch)
        w.flush()
    w.zoom(1 / gantt_widget.ZOOM_STEP)  # a manual zoom: no more fitting
    before = w.view_box.viewRange()[0]
    w.set_live(False)
    for _ in range(5):
        QApplication.processEvents()
    w.flush()
    assert w.view_box.viewRange()[0] == before


def test_a_new_run_with_no_search_matches_costs_no_repaint_to_clear_them(qtbot) -> None:
    # Every reset clears the matches; with none marked, that must not repaint the old picture
    # just before the new run's first fold repaints it again.
    import numpy as np
    from PySide6.QtCore import QEvent, QObject

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj, event) -> bool:  # noqa: N802, ANN001 - Qt's name
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    tl = Timeline()
    w = shown(qtbot, tl)
    for batch in synth_batches(n_tasks=200, n_lanes=2, batches=2):
        tl.apply(batch)
    w.flush()
    for _ in range(5):
        QApplication.processEvents()
    paints = Paints()
    w.plot.viewport().installEventFilter(paints)
    w.set_matches(np.zeros(0, np.int64))
    for _ in range(5):
        QApplication.processEvents()
    assert paints.count == 0
    w.set_matches(np.array([3]))  # a real change is painted
    qtbot.waitUntil(lambda: paints.count > 0, timeout=EVENT_BOUND_MS)
