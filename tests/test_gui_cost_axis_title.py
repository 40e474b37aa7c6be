"""The time axis' title is centred on the axis after its text changes width ("(s)" -> "(ms)"),
not only after the axis happens to be resized later (pyqtgraph places it in resizeEvent only; the
window's pictures then depended on the order of its repaints and relayouts)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_helpers import shown_chart  # noqa: E402
from synthetic import finished_run  # noqa: E402


def test_a_new_title_is_centred_on_the_axis(qtbot) -> None:
    w = shown_chart(qtbot, finished_run(1000))
    axis = w.plot.main.getAxis("bottom")
    for x1, unit in ((5.0, "(s)"), (0.5, "(ms)"), (5.0, "(s)")):
        width = axis.size().width()
        w.view_box.setXRange(0.0, x1, padding=0)
        qtbot.wait(10)
        assert unit in axis.label.toHtml()
        assert axis.size().width() == width  # (no resize came to place it)
        centre = axis.label.pos().x() + axis.label.boundingRect().width() / 2
        assert abs(centre - width / 2) <= 1.0
