"""The window's file handling: open, save, export, the file dialogs and the recent-files list.

Every dialog goes through a replaceable callable (``ask_open_path``, ``ask_save_path``, and the
``report_error`` given at construction) so tests can answer without a modal loop. Success is
announced with ``opened`` / ``saved`` for the window to update its title, forms and status bar.

Files are read off the GUI thread (:class:`BackgroundRead`): a big file takes seconds to parse,
and the window must keep painting and answering meanwhile. While it reads, a progress dialog
(busy bar, elapsed time, Cancel) shows after ``PROGRESS_AFTER_MS``; Cancel gives the window back at
once and the read's result is dropped when it finishes. The GUI thread runs whenever the reader
lets go of the GIL: between Python steps every few milliseconds, but not inside a C call that
keeps it (the window's timer waited up to 90 ms while a million-task file loaded, load 5).

The same thread then indexes what it read for the views in two steps, pure numpy on a Timeline
no other thread touches. First what the bars need (``preparers``: the chart's lane series and
merged bars); then the GUI thread hands over: the shown Timeline takes the file's columns over
without copying them, the chart takes what was prepared for those columns, one reset is
announced, and the bars are on screen. Then the rest (``later``: the queue events), on a view of
those same columns (nothing writes them while they are shown: a new run replaces them), handed
to the GUI thread by a queued signal as each is ready; the run's figures are computed by the
window's numbers worker (gui/live_numbers.py). So a million-task file costs the GUI thread
milliseconds, and its bars show as soon as the columns are read and the bars indexed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from procviz.engine.os_errors import os_reason
from procviz.engine.pipe_reader import is_named_pipe
from procviz.engine.timeline import Timeline
from procviz.gui.background_write import BackgroundWrite
from procviz.gui.busy_dialog import busy_dialog, wait_in_dialog
from procviz.gui.exit_guard import end_at_exit
from procviz.gui.settings import recent_files, remember_file
from procviz.gui.timeline_io import (
    EXPORT_FORMATS,
    NATIVE,
    OPEN_FILTER,
    ExportFormat,
    TimelineOpenError,
    adopt_into,
    format_for_path,
    kept_aside,
    read_timeline_file,
    write_timeline_file,
)

ErrorReporter = Callable[[str, str], None]


# Off the GUI thread: index a file's Timeline (nothing else touches it yet); returns the
# hand-over to run on the GUI thread once the shown Timeline has taken over its columns.
Prepare = Callable[[Timeline], Callable[[], None]]


class _Deliver(QObject):
    """Carries the later hand-overs to the GUI thread (queued: it lives there, the reader emits).
    Parentless and held by the reader thread, so a window closed meanwhile never deletes it."""

    ready = Signal(object)


class BackgroundRead:
    """One timeline file read, then indexed, on a daemon thread; ``wait`` keeps the GUI's event loop running.

    The thread is the only writer of ``timeline``, ``installs``, ``stage`` and ``error`` until it
    sets ``done``; the GUI thread reads them after that (``stage`` meanwhile, for the dialog).
    Once the GUI thread has taken the columns over (:meth:`handed_over`), the thread runs the
    ``later`` preparations on its own view of those columns and delivers each hand-over through
    ``deliver.ready`` (connect it to a GUI-thread slot that calls it).
    """

    def __init__(self, path: str | Path, prepares: list[Prepare] | None = None,
                 later: list[Prepare] | None = None) -> None:
        self.path = Path(path)
        self.prepares = list(prepares or [])
        self.later = list(later or [])
        self.deliver = _Deliver()
        self._handed = threading.Event()
        self.timeline: Timeline | None = None
        self.installs: list[Callable[[], None]] = []
        self.stage = "Reading"
        self.finished_at = 0.0  # perf_counter() when the thread was done (benchmarks)
        self.error = ""
        self.cancelled = False
        self._done = threading.Event()
        self.thread = threading.Thread(target=self._read, name="procviz-read-file", daemon=True)
        self.thread.start()
        end_at_exit(self.thread, self._cancel)  # (its later hand-overs emit into Qt)

    def _read(self) -> None:
        view: Timeline | None = None
        try:
            timeline = read_timeline_file(self.path)
            if timeline.run is not None:
                self.stage = "Indexing"
                for prepare in self.prepares:
                    if self.cancelled:
                        return  # nobody will look at the result
                    self.installs.append(prepare(timeline))
                view = kept_aside(timeline)  # (taken here: the hand-over empties `timeline`)
            self.timeline = timeline
        except TimelineOpenError as exc:
            self.error = str(exc)
        except BaseException as exc:  # noqa: BLE001 - RecursionError, MemoryError: reported, the window stays
            self.error = f"{self.path}: not a timeline procviz can read ({type(exc).__name__}: {exc})"
        finally:
            self.finished_at = time.perf_counter()
            self._done.set()
        if view is not None and self.later:
            self._index_later(view)

    def _index_later(self, view: Timeline) -> None:
        """(Reader thread.) Once the columns are shown, the rest of the indexing, handed over piece by piece."""
        self._handed.wait()
        deliver = self.deliver  # (held here: see _Deliver)
        for prepare in self.later:
            if self.cancelled:
                return
            try:
                deliver.ready.emit(prepare(view))
            except Exception:  # noqa: BLE001, S112 - a view that cannot be indexed stays empty; the file is shown
                continue

    def handed_over(self, shown: bool) -> None:
        """(GUI thread.) The columns were taken over (``shown``), or will not be: the thread may go on."""
        if not shown:
            self.cancelled = True
        self._handed.set()

    def wait(self, parent: QWidget) -> bool:
        """Process events until the read ends or the user cancels; True if it ended."""
        if self._done.wait(0.05):  # small files: no dialog, no nested loop
            return True
        dialog = busy_dialog("Opening timeline", f"Reading {self.path.name}…", "Cancel", parent)
        dialog.canceled.connect(self._cancel)
        self.dialog = dialog  # tests press Cancel through this

        def step(seconds: float) -> bool:
            if self._done.is_set():
                return True
            if dialog.wasCanceled():  # (cancel() called directly resets without the signal)
                self._cancel()
                return True
            dialog.setLabelText(f"{self.stage} {self.path.name}… {seconds:.0f} s")
            return False

        wait_in_dialog(dialog, step)
        return self._done.is_set() and not self.cancelled

    def _cancel(self) -> None:
        self.cancelled = True
        self._handed.set()


class TimelineFiles(QObject):
    """Reads files into, and writes files from, the Timeline the window shows."""

    opened = Signal(object, object)  # the shown Timeline (now holding the file's columns), Path
    saved = Signal(object, object)  # Path, ExportFormat

    def __init__(self, timeline: Timeline, settings: QSettings, report_error: ErrorReporter,
                 dialog_parent: QWidget) -> None:
        super().__init__(dialog_parent)
        self.timeline = timeline
        self.settings = settings
        self.report_error = report_error
        self.dialog_parent = dialog_parent
        self.current_file: Path | None = None
        self.ask_open_path: Callable[[str], str] = self._dialog_open_path
        self.ask_save_path: Callable[[str, str, str], str] = self._dialog_save_path
        self.reading: BackgroundRead | None = None  # the read in progress, if any
        self._writing = False  # a file is being written (see _write)
        # Called on the GUI thread as a read starts; each returns work for the reader thread
        # (see Prepare), so the views need not rebuild on the GUI thread once the file is shown:
        # ``preparers`` before the file is shown, ``later_preparers`` after (see the module docstring).
        self.preparers: list[Callable[[], Prepare]] = []
        self.later_preparers: list[Callable[[], Prepare]] = []
        self.last_read_done = 0.0  # perf_counter() when the last read's thread was done (benchmarks)

    # ---- reading and writing --------------------------------------------------------------------

    def open_file(self, path: str | Path) -> bool:
        """Show the timeline in ``path``; on any problem report why and leave the shown one as is.

        The file is read off the GUI thread (see :class:`BackgroundRead`); False when cancelled.
        """
        if self.reading is not None:
            return False  # one read at a time (the progress dialog is window-modal once shown)
        self.reading = read = BackgroundRead(path, [make() for make in self.preparers],
                                             [make() for make in self.later_preparers])
        read.deliver.ready.connect(self._install)
        try:
            finished = read.wait(self.dialog_parent)
        finally:
            self.reading = None
        shown = False
        try:
            shown = finished and self._show_read(read, path)
        finally:
            read.handed_over(shown)  # the reader thread goes on with the later indexing, or ends
        return shown

    @Slot(object)
    def _install(self, install: Callable[[], None]) -> None:
        """(GUI thread.) A later hand-over from the reader thread (it checks that its columns are still shown)."""
        install()

    def _show_read(self, read: BackgroundRead, path: str | Path) -> bool:
        """Hand what ``read`` read over to the shown Timeline (or report why not)."""
        self.last_read_done = read.finished_at
        if read.error or read.timeline is None:
            self.report_error("Cannot open the timeline", read.error or f"{path}: nothing was read")
            return False
        loaded = read.timeline
        if loaded.run is None:
            self.report_error("Cannot open the timeline", f"{path}: the file holds no run")
            return False
        installs = read.installs

        def install_all() -> None:
            for install in installs:
                install()

        adopt_into(self.timeline, loaded, install_all)
        self.current_file = Path(path)
        remember_file(self.settings, path)
        self.opened.emit(self.timeline, Path(path))
        return True

    def save_file(self, path: str | Path, fmt: ExportFormat | None = None) -> bool:
        """Write the shown timeline to ``path`` in ``fmt`` (default: from the name); False on error."""
        fmt = fmt or format_for_path(path)
        if self.timeline.run is None:
            self.report_error("Nothing to save", "Run something or open a timeline first.")
            return False
        if is_named_pipe(path):
            # Written on this thread, a pipe would freeze the window until a program read it all.
            self.report_error("Cannot write the file", f"{path}: it is a named pipe; the window writes files "
                              "(procviz export writes into a pipe)")
            return False
        if self._writing:  # (its dialog's event loop lets a second Save through)
            self.report_error("Cannot write the file", f"{path}: another file is being written; try again once it is")
            return False
        try:
            self._write(path, fmt)
        except OSError as exc:  # named without its errno or the temporary's name, as the command line does
            self.report_error("Cannot write the file", f"{path}: {os_reason(exc)}")
            return False
        except Exception as exc:  # noqa: BLE001 - any writer failure is reported, the window stays
            self.report_error("Cannot write the file", f"{path}: {str(exc) or type(exc).__name__}")
            return False
        if fmt is NATIVE:
            remember_file(self.settings, path)
            self.current_file = Path(path)
        self.saved.emit(Path(path), fmt)
        return True

    def _write(self, path: str | Path, fmt: ExportFormat) -> None:
        """Write the file: a data format off the GUI thread (see gui/background_write.py), a picture here."""
        if fmt.image:
            write_timeline_file(self.timeline, path, fmt)
            return
        shown = kept_aside(self.timeline)
        assert shown is not None  # (the timeline holds a run: checked by save_file)
        self._writing = True
        try:
            write = BackgroundWrite(shown, Path(path), fmt)
            write.wait(self.dialog_parent)
        finally:
            self._writing = False
        error = write.error
        if error is not None:  # (raised here, where save_file says it; a BaseException as an Exception)
            raise error if isinstance(error, Exception) else RuntimeError(type(error).__name__)

    # ---- dialogs --------------------------------------------------------------------------------

    def open_dialog(self) -> bool:
        """Ask for a timeline file and open it; False when cancelled or unreadable."""
        path = self.ask_open_path("Open timeline")
        return bool(path) and self.open_file(path)

    def export_dialog(self, fmt: ExportFormat | None) -> bool:
        """Ask where to write the timeline (in ``fmt``, or in the format the chosen name implies)."""
        if self.timeline.run is None:
            return False
        formats = [fmt] if fmt is not None else list(EXPORT_FORMATS)
        filters = ";;".join(f.file_filter for f in formats)
        base = self.current_file.name.removesuffix(".json") if self.current_file else "timeline"
        path = self.ask_save_path("Save timeline" if fmt is NATIVE else "Export timeline",
                                  base + formats[0].suffix, filters)
        if not path:
            return False
        chosen = fmt or format_for_path(path)
        if not str(path).lower().endswith(chosen.suffix):
            path = str(path) + chosen.suffix
        return self.save_file(path, chosen)

    def _start_folder(self) -> Path | None:
        files = recent_files(self.settings)
        return Path(files[0]).parent if files else None

    def _dialog_open_path(self, title: str) -> str:
        folder = self._start_folder()
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, title, str(folder or ""), OPEN_FILTER)
        return path

    def _dialog_save_path(self, title: str, suggested: str, filters: str) -> str:
        folder = self._start_folder()
        start = str(folder / suggested) if folder else suggested
        path, chosen_filter = QFileDialog.getSaveFileName(self.dialog_parent, title, start, filters)
        if path and not any(path.lower().endswith(f.suffix) for f in EXPORT_FORMATS):
            # A bare name: take the suffix of the file type picked in the dialog.
            picked = next((f for f in EXPORT_FORMATS if f.file_filter == chosen_filter), None)
            path += picked.suffix if picked else ""
        return path

    def fill_recent_menu(self, menu: QMenu) -> None:
        """Rebuild ``menu`` with the recent files (called as it is about to show)."""
        menu.clear()
        files = recent_files(self.settings)
        if not files:
            menu.addAction("(none yet)").setEnabled(False)
        for path in files:
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_file(p))
