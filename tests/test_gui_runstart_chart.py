"""A run's first bars bring its lane labels, and the labels widen the chart's left axes: the plots'
new geometry is laid out in the same fold, so the chart is painted once for it, not once with
the old geometry and again after a layout pass (5-7 ms of the GUI thread each)."""

from __future__ import annotations

from gui_helpers import shown_chart
from PySide6.QtCore import QEvent, QObject
from synthetic import synth_batches

from procviz.engine.events import EngineBatch
from procviz.engine.timeline import Timeline


class PaintCounter(QObject):
    """Counts the paint events of the object it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_the_fold_that_widens_the_lane_axis_is_painted_once(qtbot) -> None:
    batches = synth_batches(n_tasks=400, n_lanes=3, batches=4)
    tl = Timeline()
    tl.apply(EngineBatch(run=batches[0].run))  # the run, no lane yet: the axes at their narrowest
    w = shown_chart(qtbot, tl)
    w.flush()
    qtbot.wait(50)
    narrow = w.lane_axis.width()
    counter = PaintCounter()
    w.plot.viewport().installEventFilter(counter)
    for batch in batches:
        tl.apply(EngineBatch(lanes=batch.lanes, submitted=batch.submitted, started=batch.started,
                             ended=batch.ended, intervals=batch.intervals, now_ns=batch.now_ns))
    w.flush()
    qtbot.wait(100)  # every posted layout request and repaint is handled by now
    assert w.lane_axis.width() > narrow  # "worker 0 · pid ..." needs more room than no label
    assert w.plot.queue.getAxis("left").width() == w.lane_axis.width()
    assert counter.paints == 1
