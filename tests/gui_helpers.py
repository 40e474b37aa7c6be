"""Shared helpers for the GUI tests: windows with throwaway settings, runs, PIDs.

Qt runs offscreen: tests/conftest.py sets QT_QPA_PLATFORM before any test module is imported.
"""

from __future__ import annotations

import threading
from pathlib import Path

from engine_helpers import (  # noqa: F401 - wait_gone and worker_lane_pids are re-exported
    alive_pids,
    descendants,
    wait_gone,
    worker_lane_pids,
)

RUN_TIMEOUT_MS = 90_000
# For an event of this process that comes at once on an idle machine (a timer's tick, a hover's
# tooltip, a file read on a thread): waits return as soon as it comes, so the bound only says "it
# did not hang" and is as generous as a loaded machine (load 10 on 2 cores) can need.
EVENT_BOUND_MS = 30_000


def settings_file(tmp_path: Path) -> Path:
    """An INI file for QSettings inside the test's temporary folder."""
    return tmp_path / "procviz-test-settings.ini"


def make_window(qtbot, tmp_path: Path, engine=None):
    """A shown MainWindow with throwaway settings whose error dialogs are recorded, not shown."""
    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    window = MainWindow(settings=make_settings(settings_file(tmp_path)), engine=engine)
    qtbot.addWidget(window)
    window.errors = []
    window.show_error = lambda title, text: window.errors.append((title, text))
    window.resize(1400, 900)
    window.show()
    return window


def run_and_wait(qtbot, window, timeout_ms: int = RUN_TIMEOUT_MS):
    """Press Run and wait for the run's result (the RunResult the bridge emitted), and for its final
    numbers (computed off the GUI thread: gui/live_numbers.py)."""
    with qtbot.waitSignal(window.bridge.runFinished, timeout=timeout_ms) as blocker:
        assert window.start_run(), f"run did not start: {window.form.problems}"
    wait_numbers(qtbot, window)
    return blocker.args[0]


def wait_numbers(qtbot, window, timeout_ms: int = 30_000) -> None:
    """Wait until the numbers on screen are those of the shown Timeline (no job out on the worker)."""
    qtbot.waitUntil(lambda: window.live_numbers.settled, timeout=timeout_ms)


def open_and_wait(qtbot, window, path, timeout_ms: int = 30_000) -> bool:
    """Open ``path`` in the window and wait for what is indexed after the bars show (the queue
    events, the numbers); whether it opened."""
    if not window.open_file(path):
        return False
    queue = window.gantt.plot.queue
    qtbot.waitUntil(lambda: window.live_numbers.settled and not queue.expecting, timeout=timeout_ms)
    return True


def children() -> set[int]:
    """PIDs of this process's live descendants, without multiprocessing's shared helpers."""
    return {child.pid for child in descendants()}


alive = alive_pids  # one implementation, shared with the engine tests


def cancel_file_read_soon(window, first_ms: int, retry_ms: int) -> threading.Event:
    """Press Cancel on the window's file-reading dialog as soon as it exists (tried after ``first_ms``,
    then every ``retry_ms``); the returned event is set once it was pressed (see :func:`hold_reader_until`)."""
    from PySide6.QtCore import QTimer

    pressed = threading.Event()

    def cancel() -> None:
        read = window.files.reading
        if read is not None and getattr(read, "dialog", None) is not None:
            read.dialog.cancel()
            pressed.set()
        else:
            QTimer.singleShot(retry_ms, cancel)

    QTimer.singleShot(first_ms, cancel)
    return pressed


def hold_reader_until(monkeypatch, owner, name: str, event: threading.Event) -> None:
    """Make ``owner.name``, when called off the GUI thread, wait for ``event`` first (60 s at most).

    A cancel test holds the reader thread in the stage it cancels, so a fast read cannot end
    before Cancel is pressed (CI once saw it do so on a 200k-task file)."""
    original = getattr(owner, name)

    def held(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            event.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)


def shown_chart(qtbot, timeline, width: int = 1000, height: int = 600):
    """A GanttWidget of ``timeline``, shown at ``width`` x ``height`` and exposed."""
    from procviz.gui.gantt import GanttWidget

    w = GanttWidget(timeline)
    qtbot.addWidget(w)
    w.resize(width, height)
    w.show()
    qtbot.waitExposed(w)
    return w


def paint_counter():
    """An event filter that counts the paint events of the objects it is installed on (``.paints``)."""
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.paints = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                self.paints += 1
            return False

    return PaintCounter()
