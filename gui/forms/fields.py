"""Field widgets for the forms: an editor with its reason-for-being-invalid shown right under it.

Numbers are typed into line edits, not spin boxes, on purpose: a spin box silently refuses
"abc" or "0", whereas here the user sees what they typed and why it cannot run. The text is
turned into a value leniently (see :func:`number_or_text`) and :func:`procviz.engine.config.parse_config`
has the final word, so the form and the CLI report the same problems in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

INVALID_STYLE = "border: 1px solid #d0342c; border-radius: 2px;"


def number_or_text(text: str, blank: Any = None, integer: bool = False) -> Any:
    """``text`` as an int or float when it reads as one, ``blank`` when empty, else the text itself.

    Returning the raw text for non-numbers lets the config validator name the bad value
    ("must be a whole number ... (got 'abc')") instead of the form guessing a message.
    """
    stripped = text.strip().replace("_", "")
    if not stripped:
        return blank
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        value = float(stripped)
    except ValueError:
        return text.strip()
    if integer and value.is_integer() and abs(value) < 2**63:
        return int(value)  # "1e3" workers means 1000
    return value


class FieldRow(QWidget):
    """One form field: its editor and, below it, the reason it is invalid (hidden when valid)."""

    changed = Signal()

    def __init__(self, editor: QWidget, help_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setObjectName("fieldError")
        self.error.setStyleSheet("color: #d0342c;")
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(editor)
        layout.addWidget(self.error)
        if help_text:
            editor.setToolTip(help_text)
        self._connect(editor)

    def _connect(self, editor: QWidget) -> None:
        if isinstance(editor, QLineEdit):
            editor.textChanged.connect(self.changed)
        elif isinstance(editor, QComboBox):
            editor.currentIndexChanged.connect(self.changed)
        elif isinstance(editor, QPlainTextEdit):
            editor.textChanged.connect(self.changed)

    @property
    def problem(self) -> str:
        """The reason shown, or "" when the field is valid."""
        return self.error.text() if not self.error.isHidden() else ""

    def set_problem(self, message: str) -> None:
        """Show ``message`` under the editor (and mark the editor), or clear it with ""."""
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.editor.setStyleSheet(INVALID_STYLE if message else "")
        self.editor.setAccessibleDescription(message)


def line_edit(placeholder: str = "") -> QLineEdit:
    """A line edit with a grey hint shown while it is empty."""
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setMinimumWidth(60)
    return edit


class WheelSafeCombo(QComboBox):
    """A combo box that a mouse wheel changes only once it was clicked (it has the focus).

    The forms scroll: a wheel turned to scroll them, reaching a combo box under the pointer,
    changed its value unseen (a preset's "cpu" kind became "sleep", and the run that followed
    slept). Without the focus the wheel goes on to the scroll area, as it does over a label.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # (the wheel does not give it the focus)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        """Change the value only with the focus; else pass the wheel on to the parent."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


def combo(options: Iterable[tuple[str, str]]) -> QComboBox:
    """A combo box of (value, label) pairs; the value is the item's data."""
    box = WheelSafeCombo()
    # Long labels must not widen the dock: show them elided, in full in the drop-down.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(12)
    for value, label in options:
        box.addItem(label, value)
    return box


def combo_value(box: QComboBox) -> str:
    """The value (item data) of the current item."""
    return str(box.currentData())


def set_combo_value(box: QComboBox, value: Any) -> None:
    """Select the item whose value is ``value`` (unknown values are ignored)."""
    index = box.findData(value)
    if index >= 0:
        box.setCurrentIndex(index)


def text_of(value: Any) -> str:
    """How a config value is shown in a line edit (None is blank)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
