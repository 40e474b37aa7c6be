"""A data file (native JSON, CSV, Chrome trace) written off the GUI thread, the window painting meanwhile.

Written on the GUI thread, a million-task timeline froze the window for the whole write (1-2 s of
JSON or trace text). The writer thread gets the shown Timeline kept aside
(:func:`procviz.gui.timeline_io.kept_aside`: no column copied, and nothing the window does next
writes into those columns), and :meth:`BackgroundWrite.wait` runs the event loop until it is done,
a busy dialog with the elapsed time showing after ``PROGRESS_AFTER_MS``. A write cannot be
cancelled half way (the file appears whole or not at all: engine/formats/fileio.py), so the
dialog has no Cancel; it ends in seconds. Pictures (PNG, SVG) are drawn by Qt widgets, which
live on the GUI thread: they are not written here.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QWidget

from procviz.engine.timeline import Timeline
from procviz.gui.busy_dialog import busy_dialog, wait_in_dialog
from procviz.gui.timeline_io import ExportFormat, write_timeline_file


class BackgroundWrite:
    """One timeline file written on a thread of its own; ``error`` is what stopped it, if anything.

    The thread is the only one to touch ``error`` until it sets ``done``."""

    def __init__(self, timeline: Timeline, path: Path, fmt: ExportFormat) -> None:
        self.path, self.fmt = path, fmt
        self.error: BaseException | None = None
        self.done = threading.Event()
        # Not a daemon: a window closed while it writes lets it finish (else the file is lost).
        self.thread = threading.Thread(target=self._write, args=(timeline,), name="procviz-write-file")
        self.thread.start()

    def _write(self, timeline: Timeline) -> None:
        try:
            write_timeline_file(timeline, self.path, self.fmt)
        except BaseException as exc:  # noqa: BLE001 - MemoryError and the like: reported, the window stays
            self.error = exc
        finally:
            self.done.set()

    def wait(self, parent: QWidget | None) -> None:
        """Run the event loop until the write ends (a dialog shows if it takes a while)."""
        if self.done.wait(0.05):  # small files: no dialog, no nested loop
            return
        dialog = busy_dialog("Saving timeline", f"Writing {self.path.name}…", "", parent)
        self.dialog = dialog  # (tests look at it)

        def step(seconds: float) -> bool:
            if self.done.is_set():
                return True
            dialog.setLabelText(f"Writing {self.path.name}… {seconds:.0f} s")
            return False

        wait_in_dialog(dialog, step)
