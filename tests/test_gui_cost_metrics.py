"""The metrics panel's refreshes stay local: a new figure of the same lines repaints its label
only (no relayout of the panel, its dock and the window, no repaint of the dock), a figure that
needs more lines still makes its row taller, and the per-worker table keeps its cells' items."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject, Qt  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QMainWindow  # noqa: E402
from synthetic import finished_run  # noqa: E402

from procviz.gui.panels.label_slot import LabelSlot  # noqa: E402
from procviz.gui.panels.metrics_panel import MetricsPanel  # noqa: E402

WATCHED = (QEvent.Type.LayoutRequest, QEvent.Type.Paint)


class Events(QObject):
    """Counts the LayoutRequest and Paint events of the objects it is installed on, by (name, type)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple[str, QEvent.Type], int] = {}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in WATCHED:
            key = (watched.objectName(), event.type())
            self.seen[key] = self.seen.get(key, 0) + 1
        return False

    def count(self, name: str, kind: QEvent.Type) -> int:
        return self.seen.get((name, kind), 0)


def docked_panel(qtbot):
    """A MetricsPanel of a finished run in a dock of a shown main window, settled."""
    window = QMainWindow()
    qtbot.addWidget(window)
    panel = MetricsPanel(finished_run(5000))
    dock = QDockWidget("Metrics", window)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    window.resize(900, 700)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    for obj, name in ((window, "window"), (dock, "dock"), (panel, "panel")):
        obj.setObjectName(name)
    return window, dock, panel


def watch(*objects: QObject) -> Events:
    events = Events()
    for obj in objects:
        obj.installEventFilter(events)
    return events


def test_a_figure_of_the_same_lines_repaints_its_label_only(qtbot) -> None:
    window, dock, panel = docked_panel(qtbot)
    label = panel.values["tasks"]
    label.setObjectName("label")
    lines_before, text_before = label.height(), label.text()
    events = watch(window, dock, panel, label)
    metrics = panel.metrics
    assert metrics is not None
    panel.show_metrics(dataclasses.replace(metrics, done=metrics.done - 1))
    qtbot.wait(50)
    assert label.text() != text_before and label.height() == lines_before  # (the same lines)
    assert events.count("label", QEvent.Type.Paint) >= 1  # the new figure is shown
    assert events.count("panel", QEvent.Type.LayoutRequest) == 0
    assert events.count("dock", QEvent.Type.LayoutRequest) == 0
    assert events.count("window", QEvent.Type.LayoutRequest) == 0
    assert events.count("dock", QEvent.Type.Paint) == 0  # the panel is opaque: the dock below is not painted


def test_a_figure_that_needs_more_lines_makes_its_row_taller(qtbot) -> None:
    window, dock, panel = docked_panel(qtbot)
    label = panel.values["speedup"]
    height = label.height()
    events = watch(panel)
    label.setText(" ".join(["a long figure"] * 40))
    qtbot.wait(50)
    assert events.count("panel", QEvent.Type.LayoutRequest) >= 1
    assert label.height() > height
    assert label.height() == label.heightForWidth(label.width())  # all of its lines, none clipped
    slot = label.parentWidget()
    assert isinstance(slot, LabelSlot) and label.geometry() == slot.rect()  # the label fills its slot
    below = panel.values["mean_wait"].parentWidget()
    assert below.y() >= slot.geometry().bottom()  # the rows under it moved down


def test_the_per_worker_table_keeps_its_items(qtbot) -> None:
    window, dock, panel = docked_panel(qtbot)
    metrics = panel.metrics
    assert metrics is not None
    busy = panel.lanes.item(0, 3)
    busy.setData(Qt.ItemDataRole.UserRole, "kept")
    lanes = [dataclasses.replace(lm, busy_ns=lm.busy_ns + 7_000_000_000) for lm in metrics.lanes]
    before, rows = busy.text(), panel.lanes.rowCount()
    panel.show_metrics(dataclasses.replace(metrics, lanes=lanes))
    item = panel.lanes.item(0, 3)
    assert item.data(Qt.ItemDataRole.UserRole) == "kept"  # the same item, given the new text
    assert item.text() != before
    assert item.textAlignment() == int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert panel.lanes.rowCount() == rows
