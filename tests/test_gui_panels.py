"""Panels over a synthetic Timeline: task table (1M rows), metrics, progress, sparklines."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from synthetic import finished_run  # noqa: E402

from procviz.engine.events import (  # noqa: E402
    TaskState,
)
from procviz.engine.metrics import compute_metrics  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.panels.metrics_panel import READY_UNMEASURED, MetricsPanel, summary_texts  # noqa: E402
from procviz.gui.panels.progress_panel import ProgressPanel  # noqa: E402
from procviz.gui.panels.sparklines import SparklinesPanel, reduce_max  # noqa: E402
from procviz.gui.panels.task_model import COLUMNS, TaskTableModel  # noqa: E402
from procviz.gui.panels.task_table import TaskTablePanel  # noqa: E402


def color(state: int) -> QColor:
    return QColor("#123456")


@pytest.fixture(scope="module")
def million() -> Timeline:
    return finished_run(1_000_000)


def test_model_shows_a_million_rows_without_python_rows(qtbot, million) -> None:
    model = TaskTableModel(million, color)
    assert model.rowCount() == 1_000_000
    assert model._rows is None  # unsorted, unfiltered: no index array at all
    assert model.data(model.index(999_999, 0)) == "999999"
    assert model.data(model.index(5, 1)) == "failed"
    assert model.data(model.index(5, len(COLUMNS) - 1)) == "ValueError: boom"
    assert model.data(model.index(1, 2)) == "worker 1 (1001)"


def test_sort_by_wall_time_descending_is_an_argsort(qtbot, million) -> None:
    model = TaskTableModel(million, color)
    wall_col = [c.title for c in COLUMNS].index("Wall (ms)")
    model.sort(wall_col, Qt.SortOrder.DescendingOrder)
    walls = million.wall_ns()
    first = [model.task_at(r) for r in range(5)]
    assert walls[first[0]] == walls.max()
    assert all(walls[a] >= walls[b] for a, b in zip(first, first[1:], strict=False))
    assert walls[model.task_at(999_999)] == walls.min()


def test_filter_by_state_is_a_mask_and_keeps_the_sort(qtbot, million) -> None:
    model = TaskTableModel(million, color)
    shown = []
    model.rowsShownChanged.connect(lambda s, t: shown.append((s, t)))
    model.set_state_filter(frozenset({int(TaskState.FAILED)}))
    failed = np.flatnonzero(million.state == TaskState.FAILED)
    assert model.rowCount() == len(failed)
    assert shown[-1] == (len(failed), 1_000_000)
    model.sort(0, Qt.SortOrder.DescendingOrder)
    assert model.task_at(0) == failed[-1]
    assert model.row_of(int(failed[0])) == len(failed) - 1
    assert model.row_of(0) == -1  # filtered out
    model.set_state_filter(None)
    assert model.rowCount() == 1_000_000


def test_table_panel_selects_a_task_even_when_filtered_out(qtbot, million) -> None:
    panel = TaskTablePanel(million, color)
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    picked = []
    panel.taskSelected.connect(picked.append)
    panel.filter.setCurrentIndex(1)  # problems only
    panel.select_task(123_456)
    assert panel.filter.currentIndex() == 0
    assert panel.selected_task() == 123_456
    assert picked[-1] == 123_456
    assert "1,000,000 tasks" in panel.shown.text()


def test_selection_survives_a_live_resort(qtbot) -> None:
    tl = finished_run(1000)
    panel = TaskTablePanel(tl, color)
    qtbot.addWidget(panel)
    panel.model.sort([c.title for c in COLUMNS].index("Wall (ms)"), Qt.SortOrder.AscendingOrder)
    panel.select_task(42)
    assert panel.selected_task() == 42
    assert panel.view.currentIndex().row() == panel.model.row_of(42) != 42
    panel.model.sort(0, Qt.SortOrder.AscendingOrder)
    assert panel.selected_task() == 42
    assert panel.view.currentIndex().row() == 42


def test_metrics_panel_shows_compute_metrics(qtbot) -> None:
    tl = finished_run(5000)
    panel = MetricsPanel(tl)
    qtbot.addWidget(panel)
    expected = compute_metrics(tl)
    assert panel.metrics == expected
    for key, text in summary_texts(expected).items():
        assert panel.text(key) == text
    assert panel.lanes.rowCount() == 4
    assert panel.lanes.item(0, 1).text() == "1000"
    # A name cut to the column's width is whole in its tooltip, with its PID.
    name = panel.lanes.item(0, 0)
    assert name.toolTip() == f"{name.text()} · pid {panel.lanes.item(0, 1).text()}"


def test_metrics_panel_says_ready_is_not_measurable_without_schedstat(qtbot) -> None:
    tl = finished_run(100, schedstat=False)
    panel = MetricsPanel(tl)
    qtbot.addWidget(panel)
    assert panel.text("ready") == READY_UNMEASURED
    assert "not measurable" in panel.text("ready")


def test_metrics_panel_refreshes_on_reset(qtbot) -> None:
    tl = Timeline()
    panel = MetricsPanel(tl)
    qtbot.addWidget(panel)
    assert panel.metrics is None and panel.text("makespan") == "–"
    other = finished_run(10)
    from procviz.gui.timeline_io import load_into

    load_into(tl, other)
    assert panel.metrics == compute_metrics(other)


def test_progress_panel_counts(qtbot) -> None:
    tl = finished_run(1000)
    panel = ProgressPanel(tl)
    qtbot.addWidget(panel)
    failed = int(np.count_nonzero(tl.state == TaskState.FAILED))
    done = int(np.count_nonzero(tl.state == TaskState.DONE))
    # An ended run: the bar fills with the tasks that completed; failures are counted apart.
    assert panel.bar.value() == done and panel.bar.maximum() == 1000
    assert f"{done} done · {failed} failed of 1,000" in panel.bar.format()
    assert "tasks/s" in panel.detail.text()
    assert panel.tasks_per_second() > 0


def test_a_live_run_of_tasks_too_short_to_report_starts_does_not_say_0_running(qtbot) -> None:
    """Tasks under 0.2 ms report their start with their end: mid-run none is ever RUNNING, and
    the line said "0 running" while they ended by the thousand."""
    tl = finished_run(1000)
    tl.state[:] = TaskState.QUEUED  # none ended yet, none started
    panel = ProgressPanel(tl)
    qtbot.addWidget(panel)
    panel.live = True
    panel.refresh()
    assert panel.detail.text().startswith("0 running · 1,000 queued")
    tl.state[:400] = TaskState.DONE  # 400 ended since, none ever seen running
    panel.refresh()
    assert panel.detail.text().startswith("tasks too short to show as running · 600 queued")
    panel.refresh()  # nothing ended since the last refresh: nothing is seen running
    assert panel.detail.text().startswith("0 running · 600 queued")


def test_progress_rate_counts_the_tasks_that_ran_not_the_cancelled(qtbot) -> None:
    tl = finished_run(1000)
    tl.state[500:] = TaskState.CANCELLED  # a run stopped half way (as a Stop ends the rest)
    panel = ProgressPanel(tl)
    qtbot.addWidget(panel)
    ran = int(np.count_nonzero(tl.state[:500] != TaskState.CANCELLED))
    assert panel.tasks_per_second() == pytest.approx(ran / panel.elapsed_s())
    assert f"{panel.tasks_per_second():,.1f} tasks/s" in panel.detail.text()


def test_reduce_max_keeps_spikes() -> None:
    t = np.arange(10_000, dtype=float)
    v = np.zeros(10_000)
    v[5_000] = 99.0
    x, y = reduce_max(t, v, 0, 10_000, 100)
    assert len(x) <= 100
    assert y.max() == 99.0


def test_sparklines_group_by_lane_and_paint(qtbot) -> None:
    tl = finished_run(100, lanes=3)
    panel = SparklinesPanel(tl, QColor("green"), QColor("blue"))
    qtbot.addWidget(panel)
    panel.resize(400, 200)
    panel.show()
    panel.refresh()
    assert set(panel.canvas._groups) == {0, 1, 2}
    assert panel.canvas.height() >= 3 * 30
    assert not panel.grab().isNull()


def test_table_shows_wait_time_and_turnaround_as_scheduling_courses_count_them(qtbot) -> None:
    tl = finished_run(50)
    model = TaskTableModel(tl, color)
    titles = [c.title for c in COLUMNS]
    wait_col, turn_col = titles.index("Wait time (ms)"), titles.index("Turnaround (ms)")
    for t in (0, 7, 31):
        queued = tl.start_ns[t] - tl.submitted_ns[t]
        wait = queued + max(tl.ready_ns[t], 0)
        turnaround = tl.end_ns[t] - tl.submitted_ns[t]
        assert float(model.data(model.index(t, wait_col)).replace(",", "")) == pytest.approx(wait / 1e6, abs=0.06)
        assert float(model.data(model.index(t, turn_col)).replace(",", "")) == pytest.approx(turnaround / 1e6, abs=0.06)


def test_panels_unsubscribe_from_the_timeline_when_destroyed(qtbot) -> None:
    from PySide6.QtCore import QCoreApplication, QEvent

    from procviz.engine.timeline import TimelineChange

    tl = finished_run(100)
    before = len(tl._listeners)
    panels = [ProgressPanel(tl), MetricsPanel(tl), TaskTablePanel(tl, color),
              SparklinesPanel(tl, QColor("green"), lambda: QColor("blue"))]
    assert len(tl._listeners) > before
    for panel in panels:
        panel.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert len(tl._listeners) == before
    tl.notify(TimelineChange(reset=True))  # nothing calls into a deleted widget


def test_progress_line_says_timeouts_apart_and_a_long_note_does_not_widen_it(qtbot) -> None:
    """The bar said "5 failed" where the metrics said "0 failed, 5 timed out"; a CSV's note of
    what it lacks made the window wider than the screen (the label's text set its minimum width)."""
    tl = finished_run(100)
    tl.state[:] = TaskState.DONE
    tl.state[:5] = TaskState.TIMEOUT
    tl.state[5:8] = TaskState.FAILED
    panel = ProgressPanel(tl)
    qtbot.addWidget(panel)
    assert "92 done · 3 failed · 5 timed out of 100" in panel.bar.format()
    width = panel.minimumSizeHint().width()
    panel.detail.setText("this timeline has " + "no run configuration, " * 20)
    panel.layout().activate()
    assert panel.minimumSizeHint().width() == width
