"""The chart's axes lay out their title again only when it changes (its SI prefix), and the
plots' spare axes stay hidden."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_helpers import shown_chart  # noqa: E402
from synthetic import finished_run  # noqa: E402


def test_the_time_axis_title_is_laid_out_again_only_when_it_changes(qtbot) -> None:
    w = shown_chart(qtbot, finished_run(1000))
    axis = w.plot.main.getAxis("bottom")
    w.view_box.setXRange(0.0, 0.5, padding=0)
    qtbot.wait(20)
    assert "(ms)" in axis.label.toHtml()
    changes: list[int] = []
    axis.label.document().contentsChanged.connect(lambda: changes.append(1))
    for x0, x1 in ((0.0, 0.6), (0.1, 0.7), (0.05, 0.4)):  # other ranges, the same prefix
        w.view_box.setXRange(x0, x1, padding=0)
        qtbot.wait(10)
    assert axis.range[1] == 0.4  # (the axis followed)
    assert changes == []
    w.view_box.setXRange(0.0, 5.0, padding=0)  # seconds: another title
    qtbot.wait(10)
    assert changes and "(s)" in axis.label.toHtml() and "(ms)" not in axis.label.toHtml()


def test_spare_axes_stay_hidden(qtbot) -> None:
    w = shown_chart(qtbot, finished_run(1000))
    main, queue = w.plot.main, w.plot.queue
    assert main.getAxis("left").isVisible() and main.getAxis("bottom").isVisible()
    assert queue.getAxis("left").isVisible() and not queue.getAxis("bottom").isVisible()
    for plot in (main, queue):
        assert not plot.getAxis("top").isVisible() and not plot.getAxis("right").isVisible()
