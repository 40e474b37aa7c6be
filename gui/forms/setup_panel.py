"""The left dock: a preset picker with its description, the run forms, and Run / Stop buttons."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from procviz.engine.config import RunConfig
from procviz.gui.forms.fields import WheelSafeCombo
from procviz.gui.forms.run_form import RunForm
from procviz.gui.presets import Preset

PICK_PROMPT = "Choose a preset…"
EDITED_NOTE = "(Edited: the forms no longer match this.)"


class SetupPanel(QWidget):
    """Presets, forms and the run buttons (which show the window's Run and Stop actions)."""

    presetApplied = Signal(object)  # Preset

    def __init__(self, presets: list[Preset], run_action: QAction, stop_action: QAction,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presets = presets
        self.preset_box = WheelSafeCombo()
        self.preset_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_box.setMinimumContentsLength(16)
        self.preset_box.addItem(PICK_PROMPT, None)
        group = None
        for preset in presets:
            if preset.group != group:
                group = preset.group
                self.preset_box.insertSeparator(self.preset_box.count())
                self.preset_box.addItem(f"— {group} —", None)
                header = self.preset_box.model().item(self.preset_box.count() - 1)  # type: ignore[attr-defined]
                header.setEnabled(False)
            self.preset_box.addItem(preset.name, preset)
            self.preset_box.setItemData(self.preset_box.count() - 1, preset.description,
                                        Qt.ItemDataRole.ToolTipRole)
        self.preset_box.setToolTip("Fill the forms with a scenario from the tutorials")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setFrameShape(QFrame.Shape.StyledPanel)
        self.description.setMargin(4)
        self.description.hide()
        self.form = RunForm()
        scroll = _VerticalScroll()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.blockers = QLabel()
        self.blockers.setWordWrap(True)
        self.blockers.setStyleSheet("color: #d0342c;")
        self.blockers.hide()
        self.run_button = _button_for(run_action)
        self.stop_button = _button_for(stop_action)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.stop_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(QLabel("Preset"))
        layout.addWidget(self.preset_box)
        layout.addWidget(self.description)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.blockers)
        layout.addLayout(buttons)
        self._shown: RunConfig | None = None  # the config a preset or file filled the forms with
        self._described = ""  # ... and what the description said of it
        self.preset_box.activated.connect(self._on_preset_chosen)
        self.form.edited.connect(self._show_blockers)
        self.form.edited.connect(self._show_edited)
        self.form.edited.connect(scroll.updateGeometry)  # (a field shown or hidden may change its width)
        self._show_blockers()

    def _show_blockers(self) -> None:
        # The forms scroll: say next to the Run button which fields keep it disabled.
        order = [*self.form.pool.rows, *self.form.workload.rows]
        fields = sorted({p.field for p in self.form.problems},
                        key=lambda f: order.index(f) if f in order else len(order))
        names = list(dict.fromkeys(self.form.field_label(f) for f in fields))
        self.blockers.setText(f"Cannot run yet, fix: {', '.join(names)}" if names else "")
        self.blockers.setVisible(bool(names))

    def _show_edited(self) -> None:
        # A preset's description beside forms that no longer hold it told the wrong run: say so.
        if not self._described:
            return
        edited = self._shown is None or self.form.config() != self._shown
        self.description.setText(self._described + (f"\n{EDITED_NOTE}" if edited else ""))

    def _describe(self, description: str) -> None:
        """Show ``description`` of what the forms were just filled with (edits are marked from now on)."""
        self._shown, self._described = self.form.config(), description
        self.description.setText(description)
        self.description.setVisible(bool(description))

    def _on_preset_chosen(self, index: int) -> None:
        preset = self.preset_box.itemData(index)
        if isinstance(preset, Preset):
            self.apply_preset(preset)

    def show_config(self, config: RunConfig | dict[str, Any], description: str) -> None:
        """Fill the forms from ``config`` (not a shipped preset: the picker says none) and say where it came from."""
        self.form.set_value(config)
        self.preset_box.setCurrentIndex(0)
        self._describe(description)

    def apply_preset(self, preset: Preset) -> None:
        """Fill the forms from ``preset`` and show what it demonstrates."""
        self.form.set_value(preset.config)
        index = self.preset_box.findText(preset.name)
        if index >= 0:
            self.preset_box.setCurrentIndex(index)
        self._describe(preset.description)
        self.presetApplied.emit(preset)


class _VerticalScroll(QScrollArea):
    """A scroll area that scrolls its widget up and down only: it is never narrower than the widget.

    Narrower, the forms overflowed it sideways, and a focused field scrolled them left with no
    scroll bar to bring them back, cutting the first letters off every label.
    """

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Wide enough for the widget's minimum and the vertical scroll bar beside it."""
        hint = super().minimumSizeHint()
        widget = self.widget()
        if widget is not None:
            bar = self.verticalScrollBar().sizeHint().width()
            need = widget.minimumSizeHint().width() + bar + 2 * self.frameWidth()
            hint.setWidth(max(hint.width(), need))
        return hint


def _button_for(action: QAction) -> QToolButton:
    """A wide button that mirrors ``action`` (text, icon, enabled state, tooltip)."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    button.setMinimumHeight(30)
    return button
