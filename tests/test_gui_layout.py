"""The window at 1280x720: the chart gets the most room; theme in the View menu; folds and docks remembered."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_helpers import make_window  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication, QTabBar  # noqa: E402

from procviz.gui.forms.section import FormSection  # noqa: E402


def small_window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    w.resize(1280, 720)
    qtbot.waitExposed(w)
    QApplication.processEvents()
    return w


def area(widget) -> int:
    return widget.width() * widget.height()


def test_the_chart_is_the_biggest_thing_at_1280x720(qtbot, tmp_path) -> None:
    w = small_window(qtbot, tmp_path)
    chart = w.gantt.plot
    assert chart.width() >= 900 and chart.height() >= 330, chart.size()
    for other in (w.setup_dock, w.metrics_dock, w.tasks_dock, w.workers_dock):
        if other.isVisible():
            assert area(chart) > area(other), other.objectName()
    stray = [bar for bar in w.findChildren(QTabBar) if bar.isVisible() and bar.count() and
             bar.geometry().bottom() < w.height() - 60]
    assert stray == [], [bar.geometry() for bar in stray]  # no stray dock tab bar over the chart


def test_theme_from_the_view_menu_applies_now_and_is_remembered(qtbot, tmp_path) -> None:
    w = small_window(qtbot, tmp_path)
    app = QApplication.instance()
    try:
        dark = next(a for a in w.theme_actions.actions() if a.data() == "dark")
        dark.trigger()
        assert app.palette().color(app.palette().ColorRole.Base).lightness() < 60
        w.close()
        again = make_window(qtbot, tmp_path)
        assert again.theme == "dark"
        assert next(a for a in again.theme_actions.actions() if a.isChecked()).data() == "dark"
        again.set_theme("system")
        assert app.palette().color(app.palette().ColorRole.Base).lightness() > 150
    finally:
        w.set_theme("system")  # the palette is the application's: leave it as other tests expect


def test_form_sections_fold_and_stay_folded(qtbot, tmp_path) -> None:
    w = small_window(qtbot, tmp_path)
    sections = w.form.findChildren(FormSection)
    assert sections
    first = sections[0]
    height = first.sizeHint().height()
    first.set_collapsed(True)
    assert first.sizeHint().height() < height / 2
    w.close()
    again = make_window(qtbot, tmp_path)
    folded = [s for s in again.form.findChildren(FormSection) if s.title_text == first.title_text]
    assert folded and folded[0].collapsed
    folded[0].set_collapsed(False)


def test_dock_sizes_are_remembered(qtbot, tmp_path) -> None:
    w = small_window(qtbot, tmp_path)
    w.resizeDocks([w.tasks_dock], [260], Qt.Orientation.Vertical)
    QApplication.processEvents()
    height = w.tasks_dock.height()
    w.close()
    again = small_window(qtbot, tmp_path)
    assert abs(again.tasks_dock.height() - height) <= 4


def test_ctrl_f_goes_to_the_find_box(qtbot, tmp_path) -> None:
    w = small_window(qtbot, tmp_path)
    w.workers_dock.raise_()
    w.actions_.find.trigger()
    QApplication.processEvents()
    assert w.tasks.search.isVisible()
    assert QKeySequence("Ctrl+F") in w.actions_.find.shortcuts()
