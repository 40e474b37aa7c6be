"""The progress bar paints once per refresh, in the window's repaint pass: QProgressBar's own
``setValue``/``setRange`` repaint it at once, inside the call (``repaint()``), and its format asks
for another paint after, so each refresh of a live run painted it twice and a run's start three
times. Counted, not timed; what the bar shows afterwards is unchanged."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from synthetic import finished_run  # noqa: E402
from test_gui_cost_progress import shown_progress  # noqa: E402

from procviz.engine.events import TaskState  # noqa: E402


class BarPaints(QObject):
    """Counts the bar's paints, apart while ``inside`` is set (during a call) and after."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.during = self.after = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            if self.inside:
                self.during += 1
            else:
                self.after += 1
        return False


def test_a_refresh_paints_the_bar_once_and_not_inside_the_call(qtbot) -> None:
    window, central, panel = shown_progress(qtbot)
    panel.live = True
    tl = finished_run(1000)
    panel.refresh(tl)  # (the first numbers of a run: a new detail line, whose relayout repaints the panel)
    qtbot.wait(30)
    paints = BarPaints()
    panel.bar.installEventFilter(paints)
    for k in range(1, 4):  # a live run's refreshes: more tasks finished each time
        tl.state[:] = int(TaskState.RUNNING)
        tl.state[: 100 * k] = int(TaskState.DONE)
        paints.inside = True
        panel.refresh(tl)
        paints.inside = False
        qtbot.wait(30)
        assert (paints.during, paints.after) == (0, 1)
        assert panel.bar.value() == 100 * k and panel.bar.maximum() == 1000
        assert panel.bar.text() == f"{100 * k} / 1,000 finished"
        paints.during = paints.after = 0


def test_awaiting_counts_paints_the_bar_once(qtbot) -> None:
    window, central, panel = shown_progress(qtbot)
    paints = BarPaints()
    panel.bar.installEventFilter(paints)
    paints.inside = True
    panel.await_counts()
    paints.inside = False
    qtbot.wait(30)
    assert (paints.during, paints.after) == (0, 1)
    assert panel.bar.text() == "counting…" and panel.bar.value() == 0


def test_a_refresh_with_the_same_counts_paints_nothing(qtbot) -> None:
    window, central, panel = shown_progress(qtbot)
    panel.live = True
    tl = finished_run(1000)
    panel.refresh(tl)
    qtbot.wait(30)
    paints = BarPaints()
    panel.bar.installEventFilter(paints)
    panel.refresh(tl)  # (a refresh of a run whose counts did not move: the numbers of another panel did)
    qtbot.wait(30)
    assert (paints.during, paints.after) == (0, 0)
