"""The window's long-lived objects are frozen out of the garbage collector's passes once it is built."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_helpers import make_window  # noqa: E402

from procviz.gui import heap  # noqa: E402


def test_the_first_window_built_is_skipped_by_later_collections(qtbot, tmp_path, monkeypatch) -> None:
    gc.unfreeze()  # (an earlier window of this test process froze its objects already)
    monkeypatch.setattr(heap, "_frozen", False)
    window = make_window(qtbot, tmp_path)
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # the widgets, pyqtgraph's items, the modules: all of them
    tracked = {id(o) for o in gc.get_objects()}  # (the generations a collection walks)
    assert id(window.gantt.plot.queue) not in tracked and id(window.bridge) not in tracked
    built_after = [object()]  # what is made later is collected as usual
    assert gc.is_tracked(built_after) and id(built_after) in {id(o) for o in gc.get_objects()}


def test_only_once_a_process(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(heap, "_frozen", True)
    gc.unfreeze()
    make_window(qtbot, tmp_path)
    assert gc.get_freeze_count() == 0  # a second window's objects stay collectable
