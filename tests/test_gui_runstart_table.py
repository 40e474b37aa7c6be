"""A live refresh of the task table repaints only the rows on screen whose tasks changed: a run's
first rows stop changing early, and a screenful of cells costs milliseconds of the GUI thread to
repaint. What the table shows is still the Timeline as it is (cells are read when painted)."""

from __future__ import annotations

import numpy as np
from gui_helpers import paint_counter
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from procviz.engine.events import EngineBatch, LaneInfo, LaneKind, RunInfo, TaskState
from procviz.engine.timeline import TASK_BLOCK, Timeline
from procviz.gui.panels.task_table import TaskTablePanel

T0 = 1_000_000_000_000
N = 3 * TASK_BLOCK


def live_table(qtbot) -> tuple[Timeline, TaskTablePanel, QObject]:
    tl = Timeline()
    tl.apply(EngineBatch(run=RunInfo(n_tasks=N, t0_ns=T0, config={}, host="test", cpu_count=2, schedstat=True)))
    tl.mark_submitted(np.arange(N), T0)
    panel = TaskTablePanel(tl, lambda state: QColor("gray"))
    qtbot.addWidget(panel)
    panel.model.auto_refresh = False  # refreshed by hand, as LiveNumbers does
    panel.resize(900, 300)
    panel.show()
    qtbot.waitExposed(panel)
    counter = paint_counter()
    panel.view.viewport().installEventFilter(counter)
    panel.model.refresh_now()
    qtbot.wait(20)
    return tl, panel, counter


def end_tasks(tl: Timeline, ids: np.ndarray) -> None:
    n = len(ids)
    tl.write_ends(ids, np.full(n, int(TaskState.DONE), np.uint8), T0 + 5_000 + ids, np.full(n, 100, np.int64),
                  np.zeros(n, np.int64), np.zeros(n, np.int32), T0 + 1_000 + ids)


def repaints_after_refresh(qtbot, panel: TaskTablePanel, counter: QObject) -> int:
    counter.paints = 0
    panel.model.refresh_now()
    qtbot.wait(20)
    return counter.paints


def test_rows_off_screen_that_changed_repaint_nothing_rows_on_screen_do(qtbot) -> None:
    tl, panel, counter = live_table(qtbot)
    first, last = panel._shown_rows()  # noqa: SLF001
    assert first == 0 and 0 < last < TASK_BLOCK  # a screenful of the first block
    end_tasks(tl, np.arange(2 * TASK_BLOCK, 2 * TASK_BLOCK + 50))  # far below the screen
    assert repaints_after_refresh(qtbot, panel, counter) == 0
    assert repaints_after_refresh(qtbot, panel, counter) == 0  # nothing changed at all
    end_tasks(tl, np.array([1]))  # a row on screen
    assert repaints_after_refresh(qtbot, panel, counter) >= 1
    model = panel.model
    assert model.data(model.index(1, 1)) == model.data(model.index(2 * TASK_BLOCK, 1)) != model.data(model.index(0, 1))
    # Scrolled down, the rows that changed while off screen show the Timeline as it is.
    panel.view.scrollTo(model.index(2 * TASK_BLOCK + 10, 0))
    first, last = panel._shown_rows()  # noqa: SLF001
    assert first <= 2 * TASK_BLOCK + 10 < last
    assert model.data(model.index(2 * TASK_BLOCK + 10, 5)) == f"{(1_000 + 2 * TASK_BLOCK + 10) / 1e9:.3f}"


def test_new_lanes_or_texts_repaint_the_rows_on_screen(qtbot) -> None:
    tl, panel, counter = live_table(qtbot)
    tl.apply(EngineBatch(lanes=[LaneInfo(index=0, pid=4711, tid=4711, kind=LaneKind.PROCESS, name="worker 0")]))
    assert repaints_after_refresh(qtbot, panel, counter) >= 1  # the Worker column's names
    assert repaints_after_refresh(qtbot, panel, counter) == 0
    # A lane's times (its worker became ready, exited) change no cell: nothing to repaint.
    tl.apply(EngineBatch(lanes=[LaneInfo(index=0, pid=4711, tid=4711, kind=LaneKind.PROCESS, name="worker 0",
                                         created_ns=T0, ready_ns=T0 + 10)]))
    assert repaints_after_refresh(qtbot, panel, counter) == 0
    tl.apply(EngineBatch(lanes=[LaneInfo(index=0, pid=4712, tid=4712, kind=LaneKind.PROCESS, name="worker 0")]))
    assert repaints_after_refresh(qtbot, panel, counter) >= 1  # another process in that lane


def test_a_sorted_table_still_refreshes_its_rows(qtbot) -> None:
    tl, panel, counter = live_table(qtbot)
    panel.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    end_tasks(tl, np.arange(N - 5, N))  # the first rows of the sorted table
    assert repaints_after_refresh(qtbot, panel, counter) >= 1
    assert panel.model.task_at(0) == N - 1


def test_a_runs_rows_appear_with_its_first_numbers_a_files_at_once(qtbot) -> None:
    from synthetic import finished_run

    tl = Timeline()
    panel = TaskTablePanel(tl, lambda state: QColor("gray"))
    qtbot.addWidget(panel)
    panel.model.auto_refresh = False  # refreshed by hand, as LiveNumbers does
    tl.apply(EngineBatch(run=RunInfo(n_tasks=N, t0_ns=T0, config={}, host="test", cpu_count=2, schedstat=True)))
    tl.mark_submitted(np.arange(N), T0)
    assert panel.model.rowCount() == 0  # a run's start: no row until its numbers
    panel.model.refresh_now()
    assert panel.model.rowCount() == N and panel.model.task_at(7) == 7
    done = finished_run(300)
    tl.load_columns(done.run, done.lanes, {name: getattr(done, name) for name in Timeline.TASK_COLUMNS}, {},
                    done.intervals.data, done.resources.data, done.spans.data, [], done.status, done.now_ns)
    assert panel.model.rowCount() == 300  # a file's tasks have started: its rows at once
