"""A titled group of form fields keyed by their config field names; a click on the title folds it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFormLayout, QGroupBox, QStyle, QStyleOptionGroupBox, QWidget

from procviz.gui.forms.fields import FieldRow


class FormSection(QGroupBox):
    """Fields in a form layout; ``rows`` maps dotted config field names to their :class:`FieldRow`.

    Emits ``changed`` whenever any field is edited, so the owner can validate as the user types.
    A click on the title folds the section to its title (and back), so a small window shows the
    chart rather than every field; ``collapsedChanged(bool)`` lets the owner remember it.
    """

    changed = Signal()
    collapsedChanged = Signal(bool)

    def __init__(self, title: str, prefix: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.title_text = title  # the title without the fold arrow
        self._collapsed = False
        self.setToolTip("Click the title to fold or unfold this section")
        self.prefix = prefix
        self.rows: dict[str, FieldRow] = {}
        self._named: dict[str, tuple[str, str]] = {}  # each field's own label and help (see rename)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._show_title()

    # ---- folding --------------------------------------------------------------------------------

    def _show_title(self) -> None:
        self.setTitle(("▸ " if self._collapsed else "▾ ") + self.title_text)

    @property
    def collapsed(self) -> bool:
        """Whether only the title shows."""
        return self._collapsed

    def set_collapsed(self, collapsed: bool) -> None:
        """Fold the section to its title (True) or show its fields (False)."""
        collapsed = bool(collapsed)
        if collapsed == self._collapsed:
            return
        self._collapsed = collapsed
        for row in range(self.layout_.rowCount()):
            self.layout_.setRowVisible(row, not collapsed)
        self._show_title()
        self.collapsedChanged.emit(collapsed)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A click on the title folds or unfolds the section."""
        option = QStyleOptionGroupBox()
        self.initStyleOption(option)
        title = self.style().subControlRect(QStyle.ComplexControl.CC_GroupBox, option,
                                            QStyle.SubControl.SC_GroupBoxLabel, self)
        if title.adjusted(-4, -4, 40, 4).contains(event.position().toPoint()):
            self.set_collapsed(not self._collapsed)
            event.accept()
            return
        super().mousePressEvent(event)

    def add_row(self, name: str, label: str, editor: QWidget, help_text: str = "",
                top_level: bool = False) -> FieldRow:
        """Add a field for config field ``prefix + name`` (just ``name`` when ``top_level``)."""
        row = FieldRow(editor, help_text)
        row.changed.connect(self.changed)
        self.layout_.addRow(label, row)
        label_widget = self.layout_.labelForField(row)
        if label_widget is not None and help_text:
            label_widget.setToolTip(help_text)
        key = name if top_level else self.prefix + name
        self.rows[key] = row
        self._named[key] = (label, help_text)
        return row

    def rename(self, field: str, label: str = "", help_text: str = "") -> None:
        """Show ``field`` (its dotted name) under ``label`` with ``help_text``; blank: its own."""
        own_label, own_help = self._named[field]
        row = self.rows[field]
        help_text = help_text or own_help
        widget = self.layout_.labelForField(row)
        if widget is not None:
            widget.setText(label or own_label)  # type: ignore[attr-defined]
            widget.setToolTip(help_text)
        row.editor.setToolTip(help_text)

    def show_problems(self, problems: dict[str, str]) -> set[str]:
        """Show each problem next to its field; returns the field names this section owns."""
        for name, row in self.rows.items():
            row.set_problem(problems.get(name, ""))
        return set(self.rows) & set(problems)
