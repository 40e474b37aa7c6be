"""The busy dialog of a file read or written off the GUI thread: when it shows, how often it is told."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QProgressDialog, QWidget

PROGRESS_AFTER_MS = 300  # a read or write that takes longer shows a dialog
POLL_MS = 20  # how often the waiting event loop looks whether it is done


def show_when_due(dialog: QProgressDialog, t0: float) -> None:
    """Show a busy dialog once PROGRESS_AFTER_MS have passed since ``t0`` (monotonic seconds).

    Not ``setMinimumDuration``: a busy dialog (range 0-0) is never given a value, and without one
    Qt shows it only after its default 4 s (the constructor's timer), so a 2 s read or write
    showed no dialog at all."""
    if not dialog.isVisible() and not dialog.wasCanceled() and time.monotonic() - t0 >= PROGRESS_AFTER_MS / 1000:
        dialog.show()


def busy_dialog(title: str, label: str, cancel: str, parent: QWidget | None) -> QProgressDialog:
    """A window-modal busy dialog, not shown yet (``cancel``: its button's text, "" for none)."""
    dialog = QProgressDialog(label, cancel, 0, 0, parent)
    if not cancel:
        dialog.setCancelButton(None)  # (Qt takes None: no button)
    dialog.setWindowTitle(title)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    return dialog


def wait_in_dialog(dialog: QProgressDialog, step: Callable[[float], bool]) -> None:
    """Run the event loop until ``step(seconds so far)``, called every POLL_MS, says it is over;
    show ``dialog`` once it is due (see show_when_due), and close it at the end."""
    loop = QEventLoop()
    t0 = time.monotonic()
    timer = QTimer()
    timer.setInterval(POLL_MS)

    def poll() -> None:
        if step(time.monotonic() - t0):
            loop.quit()
        else:
            show_when_due(dialog, t0)

    timer.timeout.connect(poll)
    timer.start()
    loop.exec()
    timer.stop()
    dialog.reset()
    dialog.deleteLater()
