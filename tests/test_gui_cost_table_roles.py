"""A cell of the task table looks its task up only for the roles it has: Qt's delegate asks each
cell it paints for seven roles (font, alignment, colours, check state, icon, text), of which a cell
has at most three. Counted, not timed; what the cells say is unchanged."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from test_gui_runstart_table import end_tasks, live_table  # noqa: E402

from procviz.gui.panels.task_model import COLUMNS  # noqa: E402


def test_a_repaint_looks_each_cell_task_up_for_its_text_and_icon_only(qtbot, monkeypatch) -> None:
    tl, panel, counter = live_table(qtbot)
    model = panel.model
    first, last = panel._shown_rows()  # noqa: SLF001
    lookups: list[int] = []
    task_at = model.task_at
    monkeypatch.setattr(model, "task_at", lambda row: lookups.append(row) or task_at(row))
    end_tasks(tl, np.arange(first, last))  # every row on screen changed: all repaint
    counter.paints = 0
    model.refresh_now()
    qtbot.wait(20)
    assert counter.paints >= 1
    rows = len(set(lookups))
    assert rows >= last - first - 1  # (the rows on screen were painted)
    # Per row painted: its text in each column and the state's icon; not once per role asked.
    assert len(lookups) <= counter.paints * rows * (len(COLUMNS) + 1)


def test_the_cells_answer_as_before() -> None:
    from PySide6.QtGui import QColor

    from procviz.engine.events import EngineBatch, RunInfo
    from procviz.engine.timeline import Timeline
    from procviz.gui.panels.task_model import TaskTableModel

    tl = Timeline()
    tl.apply(EngineBatch(run=RunInfo(n_tasks=5, t0_ns=1, config={}, host="test", cpu_count=2, schedstat=True)))
    model = TaskTableModel(tl, lambda state: QColor("gray"))
    index = model.index(2, 0)
    assert model.data(index) == "2"
    assert model.data(index, Qt.ItemDataRole.TextAlignmentRole) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert model.data(model.index(2, 1), Qt.ItemDataRole.DecorationRole) is not None
    assert model.data(index, Qt.ItemDataRole.DecorationRole) is None
    for role in (Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole,
                 Qt.ItemDataRole.CheckStateRole):
        assert model.data(index, role) is None
    assert model.data(model.index(2, len(COLUMNS) - 1), Qt.ItemDataRole.ToolTipRole) is None
