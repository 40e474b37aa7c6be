"""The window's file handling: open, save, export, the file dialogs and the recent-files list.

Every dialog goes through a replaceable callable (``ask_open_path``, ``ask_save_path``, and the
``report_error`` given at construction) so tests can answer without a modal loop. Success is
announced with ``opened`` / ``saved`` for the window to update its title, forms and status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from procviz.engine.timeline import Timeline
from procviz.gui.settings import recent_files, remember_file
from procviz.gui.timeline_io import (
    EXPORT_FORMATS,
    NATIVE,
    OPEN_FILTER,
    ExportFormat,
    TimelineOpenError,
    format_for_path,
    load_into,
    read_timeline_file,
    write_timeline_file,
)

ErrorReporter = Callable[[str, str], None]


class TimelineFiles(QObject):
    """Reads files into, and writes files from, the Timeline the window shows."""

    opened = Signal(object, object)  # the Timeline read (already copied into the shown one), Path
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

    # ---- reading and writing --------------------------------------------------------------------

    def open_file(self, path: str | Path) -> bool:
        """Show the timeline in ``path``; on any problem report why and leave the shown one as is."""
        try:
            loaded = read_timeline_file(path)
        except TimelineOpenError as exc:
            self.report_error("Cannot open the timeline", str(exc))
            return False
        if loaded.run is None:
            self.report_error("Cannot open the timeline", f"{path}: the file holds no run")
            return False
        load_into(self.timeline, loaded)
        self.current_file = Path(path)
        remember_file(self.settings, path)
        self.opened.emit(loaded, Path(path))
        return True

    def save_file(self, path: str | Path, fmt: ExportFormat | None = None) -> bool:
        """Write the shown timeline to ``path`` in ``fmt`` (default: from the name); False on error."""
        fmt = fmt or format_for_path(path)
        if self.timeline.run is None:
            self.report_error("Nothing to save", "Run something or open a timeline first.")
            return False
        try:
            write_timeline_file(self.timeline, path, fmt)
        except Exception as exc:  # noqa: BLE001 - any writer failure is reported, the window stays
            self.report_error("Cannot write the file", f"{path}: {exc}")
            return False
        if fmt is NATIVE:
            remember_file(self.settings, path)
            self.current_file = Path(path)
        self.saved.emit(Path(path), fmt)
        return True

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
