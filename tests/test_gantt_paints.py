"""A live fold of the chart costs one repaint, not two (pyqtgraph applies a range change's
transform at the next paint, which then marked the view boxes dirty again)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from synthetic import synth_batches  # noqa: E402

from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.gantt import GanttWidget  # noqa: E402


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802, ANN001 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_each_live_fold_repaints_the_chart_once(qtbot, monkeypatch) -> None:
    from procviz.gui.gantt import queue_plot

    monkeypatch.setattr(queue_plot, "COST_FACTOR", 0)  # the queue plot's own pacing may add a paint: not here
    tl = Timeline()
    w = GanttWidget(tl)
    qtbot.addWidget(w)
    w.resize(1000, 600)
    w.show()
    qtbot.waitExposed(w)
    counter = PaintCounter()
    w.plot.viewport().installEventFilter(counter)
    batches = synth_batches(n_tasks=3000, n_lanes=3, batches=12)
    tl.apply(batches[0])
    w.flush()
    QApplication.processEvents()
    per_fold = []
    for batch in batches[1:]:
        tl.apply(batch)  # the data grows: the fitted view's range changes at every fold
        counter.paints = 0
        w.flush()
        for _ in range(5):
            QApplication.processEvents()
        per_fold.append(counter.paints)
    assert per_fold and all(n == 1 for n in per_fold), per_fold
