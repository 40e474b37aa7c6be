"""The setup dock as a person uses it: a wheel turned to scroll the forms changes none of them,
and a preset's description says when the forms no longer hold it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QAction, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea  # noqa: E402

from procviz.gui.forms.fields import combo_value, set_combo_value  # noqa: E402
from procviz.gui.forms.setup_panel import EDITED_NOTE, SetupPanel  # noqa: E402
from procviz.gui.presets import load_presets, presets_dir  # noqa: E402


@pytest.fixture
def panel(qtbot):
    presets, _ = load_presets(presets_dir())
    p = SetupPanel(presets, QAction("Run"), QAction("Stop"))
    qtbot.addWidget(p)
    p.resize(320, 500)
    p.show()
    qtbot.waitExposed(p)
    return p


def wheel(widget, notches: int = -3) -> None:
    """Turn the wheel over ``widget`` (negative: towards the user, scrolling down)."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_a_wheel_over_an_unfocused_combo_box_changes_nothing(panel) -> None:
    kind = panel.form.workload.rows["workload.kind"].editor
    assert isinstance(kind, QComboBox)
    before = combo_value(kind)
    panel.preset_box.setFocus()
    wheel(kind)
    assert combo_value(kind) == before
    preset_before = panel.preset_box.currentIndex()
    panel.run_button.setFocus()
    wheel(panel.preset_box)
    assert panel.preset_box.currentIndex() == preset_before


def test_a_wheel_over_a_focused_combo_box_still_changes_it(panel) -> None:
    kind = panel.form.workload.rows["workload.kind"].editor
    before = combo_value(kind)
    kind.setFocus()
    assert kind.hasFocus()
    wheel(kind, notches=-1)
    assert combo_value(kind) != before  # (the guard is the focus, not a dead wheel)


def test_the_description_says_when_the_forms_no_longer_hold_the_preset(panel) -> None:
    preset = next(p for p in panel.presets
                  if p.config.get("workload", {}).get("kind") == "cpu" and not p.config.get("scenario"))
    panel.apply_preset(preset)
    assert panel.description.text() == preset.description
    kind = panel.form.workload.rows["workload.kind"].editor
    set_combo_value(kind, "sleep")
    assert panel.description.text().startswith(preset.description)
    assert EDITED_NOTE in panel.description.text()
    set_combo_value(kind, "cpu")  # back as it was: the preset again
    assert panel.description.text() == preset.description


def test_a_config_shown_from_a_file_is_marked_once_edited_too(panel) -> None:
    preset = panel.presets[0]
    panel.show_config(preset.config, "Run config from mine.json.")
    workers = panel.form.pool.rows["workers"].editor
    workers.setText("7")
    assert EDITED_NOTE in panel.description.text()
    panel.show_config(preset.config, "Run config from other.json.")
    assert panel.description.text() == "Run config from other.json."


def test_the_forms_never_overflow_sideways_even_in_the_narrowest_dock(qtbot, panel) -> None:
    scroll = next(w for w in panel.findChildren(QScrollArea) if w.widget() is panel.form)
    panel.resize(panel.minimumSizeHint().width(), 500)
    qtbot.wait(10)
    for name in ("workers", "workload.count"):
        editor = (panel.form.pool.rows.get(name) or panel.form.workload.rows[name]).editor
        editor.setFocus()
        editor.setText("abc")  # (an error shown under it)
        qtbot.wait(10)
        assert panel.form.width() <= scroll.viewport().width()
        assert scroll.horizontalScrollBar().maximum() == 0
        assert scroll.horizontalScrollBar().value() == 0


def test_a_preset_chosen_from_the_menu_brings_the_forms_to_the_front(qtbot, tmp_path) -> None:
    from gui_helpers import make_window

    window = make_window(qtbot, tmp_path)
    qtbot.waitExposed(window)
    window.metrics_dock.raise_()
    qtbot.wait(10)
    assert window.setup_dock.visibleRegion().isEmpty()
    menu_action = next(a for a in window.findChildren(QAction) if a.text() == window.setup.presets[0].name)
    menu_action.trigger()
    qtbot.wait(10)
    assert not window.setup_dock.visibleRegion().isEmpty()


def test_a_window_opens_with_the_forms_in_front_whatever_tab_it_closed_on(qtbot, tmp_path) -> None:
    from gui_helpers import make_window

    window = make_window(qtbot, tmp_path)
    qtbot.waitExposed(window)
    window.metrics_dock.raise_()
    window.close()  # (saves the layout, the metrics tab in front)
    again = make_window(qtbot, tmp_path)
    qtbot.waitExposed(again)
    qtbot.wait(10)
    assert not again.setup_dock.visibleRegion().isEmpty()
    assert again.metrics_dock.visibleRegion().isEmpty()
