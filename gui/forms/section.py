"""A titled group of form fields keyed by their config field names."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QWidget

from procviz.gui.forms.fields import FieldRow


class FormSection(QGroupBox):
    """Fields in a form layout; ``rows`` maps dotted config field names to their :class:`FieldRow`.

    Emits ``changed`` whenever any field is edited, so the owner can validate as the user types.
    """

    changed = Signal()

    def __init__(self, title: str, prefix: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.prefix = prefix
        self.rows: dict[str, FieldRow] = {}
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)

    def add_row(self, name: str, label: str, editor: QWidget, help_text: str = "",
                top_level: bool = False) -> FieldRow:
        """Add a field for config field ``prefix + name`` (just ``name`` when ``top_level``)."""
        row = FieldRow(editor, help_text)
        row.changed.connect(self.changed)
        self.layout_.addRow(label, row)
        label_widget = self.layout_.labelForField(row)
        if label_widget is not None and help_text:
            label_widget.setToolTip(help_text)
        self.rows[name if top_level else self.prefix + name] = row
        return row

    def show_problems(self, problems: dict[str, str]) -> set[str]:
        """Show each problem next to its field; returns the field names this section owns."""
        for name, row in self.rows.items():
            row.set_problem(problems.get(name, ""))
        return set(self.rows) & set(problems)
