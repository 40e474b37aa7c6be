"""Worker names in the tables stay told apart when their column is narrow."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

NAMES = ("guest 1 · task 1", "guest 2 · task 2", "ThreadPoolExecutor_0", "ThreadPoolExecutor_3")


def shown(view, text: str, width: int) -> str:
    return view.fontMetrics().elidedText(text, view.textElideMode(), width)


def test_names_cut_to_a_narrow_column_still_differ(qtbot, tmp_path) -> None:
    from gui_helpers import make_window

    window = make_window(qtbot, tmp_path)
    for view in (window.metrics.lanes, window.tasks.view):
        assert view.textElideMode() == Qt.TextElideMode.ElideMiddle
        width = view.fontMetrics().horizontalAdvance("guest …") + 4  # what an end cut left of them
        cut = [shown(view, name, width) for name in NAMES]
        assert len(set(cut)) == len(NAMES), cut
