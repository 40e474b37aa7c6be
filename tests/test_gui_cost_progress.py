"""The progress line's ticks stay local: an elapsed time of the same width repaints its label only
(no relayout of the panel or the window, no repaint of the window below), a wider one still gets
its width."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent  # noqa: E402
from PySide6.QtWidgets import QMainWindow, QVBoxLayout, QWidget  # noqa: E402
from synthetic import finished_run  # noqa: E402
from test_gui_cost_metrics import watch  # noqa: E402

from procviz.gui.panels.progress_panel import ProgressPanel  # noqa: E402


def shown_progress(qtbot):
    """A ProgressPanel at the top of a shown main window's central widget, as the window has it."""
    window = QMainWindow()
    qtbot.addWidget(window)
    central = QWidget()
    panel = ProgressPanel(finished_run(1000))
    QVBoxLayout(central).addWidget(panel)
    central.layout().addStretch(1)
    window.setCentralWidget(central)
    window.resize(900, 300)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    for obj, name in ((window, "window"), (central, "central"), (panel, "panel"), (panel.elapsed, "label")):
        obj.setObjectName(name)
    return window, central, panel


def test_an_elapsed_time_of_the_same_width_repaints_its_label_only(qtbot) -> None:
    window, central, panel = shown_progress(qtbot)
    panel.elapsed.setText("1.0 s")
    qtbot.wait(50)
    events = watch(window, central, panel, panel.elapsed)
    for text in ("1.1 s", "1.2 s", "1.3 s"):  # (digits of one width)
        panel.elapsed.setText(text)
        qtbot.wait(20)
    assert events.count("label", QEvent.Type.Paint) >= 3
    for name in ("panel", "central", "window"):
        assert events.count(name, QEvent.Type.LayoutRequest) == 0
    assert events.count("window", QEvent.Type.Paint) == 0 and events.count("central", QEvent.Type.Paint) == 0


def test_a_wider_elapsed_time_gets_its_width(qtbot) -> None:
    window, central, panel = shown_progress(qtbot)
    panel.elapsed.setText("1.0 s")
    qtbot.wait(50)
    width = panel.elapsed.width()
    panel.elapsed.setText("12 min 05 s")
    qtbot.wait(50)
    assert panel.elapsed.width() > width
    assert panel.elapsed.width() >= panel.elapsed.sizeHint().width()  # all of it shown
    assert panel.elapsed.geometry().right() <= panel.contentsRect().right()


def test_a_text_changed_while_hidden_gets_its_size_once_shown(qtbot) -> None:
    """Qt tells no hidden parent of a relayout: a figure changed behind another tab (the metrics
    dock shares its place with the setup) must still get its size when it is shown again."""
    from PySide6.QtWidgets import QLabel, QTabWidget

    from procviz.gui.panels.label_slot import LabelSlot

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    page = QWidget()
    wrapped, line = QLabel("1 s"), QLabel("1 s")
    wrapped.setWordWrap(True)
    layout = QVBoxLayout(page)
    for label in (wrapped, line):
        layout.addWidget(LabelSlot(label))
    layout.addStretch(1)
    tabs.addTab(page, "numbers")
    tabs.addTab(QWidget(), "setup")
    tabs.resize(300, 400)
    tabs.show()
    qtbot.waitExposed(tabs)
    tabs.setCurrentIndex(1)  # the numbers' page hidden
    qtbot.wait(20)
    wrapped.setText("\n".join(["a figure of several lines"] * 4))
    line.setText("a much longer line than before")
    qtbot.wait(20)
    tabs.setCurrentIndex(0)  # shown again
    qtbot.wait(50)
    assert wrapped.height() >= wrapped.heightForWidth(wrapped.width())  # not clipped
    assert line.width() >= line.sizeHint().width()
