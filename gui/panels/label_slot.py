"""A slot for one QLabel in a layout: a new text relays out the window only if it needs another size.

Qt relays out from a label up to the whole window at every ``setText``: the label's layout, the
panel's, its dock's and the main window's (each layout's activation tells its widget's parent
that its size may have changed, whether it did or not), and the styles' dock title rectangles
are computed again on the way. The metrics panel changes its word-wrapped figures four times a
second while a run is live, most of them to a text of the same number of lines. In a slot, the
label's relayout request reaches the slot, which has no layout: it passes it on only when the
label's minimum size or its height at the width it has changed, else only the label repaints.
The slot takes the label's size policy and size hints, so the layout places it as it would
place the label, and the label fills it. (A one-line label's new text of the same width, the
progress line's elapsed time ten times a second, repaints it only too.)
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget


class LabelSlot(QWidget):
    """Holds ``label`` (made its child) and stands for it in a layout."""

    def __init__(self, label: QLabel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        label.setParent(self)
        self.setSizePolicy(label.sizePolicy())  # (word wrap, set before, makes it height-for-width)
        self.relayouts = 0  # relayouts asked of the layout holding the slot (tests read it)
        self._needs = self._label_needs()

    def _label_needs(self) -> tuple[QSize, QSize | int]:
        """What the layout holding the slot reads of the label: its minimum, and its height at its
        width if it wraps (its width is the layout's), else its size (a line's width is its own)."""
        label = self.label
        if label.hasHeightForWidth():
            return label.minimumSizeHint(), label.heightForWidth(self.width())
        return label.minimumSizeHint(), label.sizeHint()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """The label's."""
        return self.label.sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """The label's."""
        return self.label.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        """The label's (a word-wrapped label's height depends on its width)."""
        return self.label.hasHeightForWidth()

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        """The label's."""
        return self.label.heightForWidth(width)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        """The label fills the slot."""
        self.label.setGeometry(self.rect())
        self._needs = self._label_needs()
        super().resizeEvent(event)

    def event(self, event: QEvent) -> bool:
        """A relayout the label asked for goes on only if what the layout reads of it changed;
        so does a change made while the slot was hidden (Qt sends no LayoutRequest up to a
        hidden parent: a figure changed behind another tab would stay clipped), once shown."""
        kind = event.type()
        if kind in (QEvent.Type.LayoutRequest, QEvent.Type.Show):
            needs = self._label_needs()
            if needs != self._needs:
                self._needs = needs
                self.relayouts += 1
                self.updateGeometry()
            if kind == QEvent.Type.LayoutRequest:
                return True
        return super().event(event)
