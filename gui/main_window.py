"""The main window: forms on the left, the live Gantt in the centre, numbers and tasks around it.

The window owns one Timeline for its whole life; the chart and every panel subscribe to it.
Runs feed it through the :class:`~procviz.gui.bridge.EngineBridge`; opened files move into it
(their columns, no copy; only after they were read without error, so a bad file leaves the screen as it was). Dialogs
go through replaceable callables (``show_error`` here; ``files.ask_open_path`` and
``files.ask_save_path`` in :mod:`procviz.gui.timeline_files`) so tests answer them without a modal loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from procviz.engine.cli_config import config_file_of
from procviz.engine.config import ConfigError, RunConfig, parse_config
from procviz.engine.error_summary import error_kinds, error_lines, failed_texts
from procviz.engine.events import RunOutcome, RunPhase, RunStatus, TaskState, WorkerState
from procviz.engine.runner import Engine, RunResult
from procviz.engine.timeline import Timeline
from procviz.gui.actions import make_actions
from procviz.gui.bridge import EngineBridge
from procviz.gui.colors import state_color
from procviz.gui.forms.section import FormSection
from procviz.gui.forms.setup_panel import SetupPanel
from procviz.gui.gantt import GanttWidget
from procviz.gui.heap import freeze_built_objects
from procviz.gui.live_numbers import LiveNumbers
from procviz.gui.panels.metrics_panel import MetricsPanel
from procviz.gui.panels.progress_panel import ProgressPanel
from procviz.gui.panels.sparklines import SparklinesPanel
from procviz.gui.panels.task_table import TaskTablePanel
from procviz.gui.panels.units import count
from procviz.gui.presets import load_presets
from procviz.gui.settings import (
    make_settings,
    read_json,
    remember_fold,
    remember_theme,
    remembered_folds,
    remembered_theme,
    write_json,
)
from procviz.gui.theme import THEMES, apply_theme
from procviz.gui.timeline_files import TimelineFiles
from procviz.gui.timeline_io import EXPORT_FORMATS, NATIVE, ExportFormat, adopt_into, kept_aside

STATUS_MS = 500
# Bump when the dock layout changes: an older saved layout is then ignored, not half-applied.
LAYOUT_VERSION = 3
ErrorDialog = Callable[[str, str], None]


def message_box_error(title: str, text: str) -> None:
    """The default error dialog: a modal message box with the reason."""
    QMessageBox.critical(QApplication.activeWindow(), title, text)


class MainWindow(QMainWindow):
    """procviz's window; see the module docstring."""

    def __init__(self, settings: QSettings | None = None, engine: Engine | None = None,
                 presets_folder: Path | None = None, parent: QWidget | None = None,
                 theme: str | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or make_settings()
        # A theme given on the command line wins for this session; otherwise the remembered one.
        self.theme = theme or remembered_theme(self.settings, THEMES)
        self.timeline = Timeline()
        self.bridge = EngineBridge(self.timeline, engine, self)
        self._previous: Timeline | None = None
        self._outcome_due: tuple[str, str] | None = None  # a run's outcome, shown with its final numbers
        self._title_before = ""  # the window's title before a run (put back if nothing ran)
        self._run_started_at = ""  # the wall clock time the shown run was started (its title says it)
        self._file_before: Path | None = None  # the file shown before a run (put back if nothing ran)
        self.show_error: ErrorDialog = message_box_error
        # Through a lambda, so that replacing show_error later (tests) reaches the file handling too.
        self.files = TimelineFiles(self.timeline, self.settings, lambda t, m: self.show_error(t, m), self)
        self.setWindowTitle("procviz")
        self.setAcceptDrops(True)
        self.actions_ = make_actions(self)
        presets, preset_problems = load_presets(presets_folder)
        self._apply_theme(self.theme)
        self._build_central()
        self._build_docks(presets)
        self._build_menus(presets)
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._restore()
        for problem in preset_problems:
            self.statusBar().showMessage(f"preset skipped: {problem}", 10_000)
        self._update_actions()
        freeze_built_objects()  # (see gui/heap.py: the collector's passes then skip the window)

    # ---- construction ---------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.progress = ProgressPanel(self.timeline)
        self.gantt = GanttWidget(self.timeline)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.progress)
        layout.addWidget(self.gantt, 1)
        self.setCentralWidget(central)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() needs it
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self, presets: list) -> None:
        a = self.actions_
        self.setup = SetupPanel(presets, a.run, a.stop)
        self.form = self.setup.form
        self.metrics = MetricsPanel(self.timeline)
        self.sparklines = SparklinesPanel(self.timeline, state_color(WorkerState.RUNNING),
                                          lambda: self.palette().color(self.palette().ColorRole.Highlight))
        self.tasks = TaskTablePanel(self.timeline, lambda s: state_color(TaskState(s)))
        self.live_numbers = LiveNumbers(self.timeline, self.progress, self.metrics, self.tasks.model, self)
        area = Qt.DockWidgetArea
        # The left column runs the full height; the bottom strip sits under the chart only.
        self.setCorner(Qt.Corner.BottomLeftCorner, area.LeftDockWidgetArea)
        self.setup_dock = self._dock("Run setup", "setupDock", self.setup, area.LeftDockWidgetArea)
        self.metrics_dock = self._dock("Metrics", "metricsDock", self.metrics, area.LeftDockWidgetArea)
        self.tasks_dock = self._dock("Tasks", "tasksDock", self.tasks, area.BottomDockWidgetArea)
        self.workers_dock = self._dock("Workers: CPU and memory", "workersDock", self.sparklines,
                                       area.BottomDockWidgetArea)
        self.setup_dock.setMinimumWidth(260)
        self._docks_arranged = False
        folds = remembered_folds(self.settings)
        for section in self.form.findChildren(FormSection):
            section.set_collapsed(folds.get(section.title_text, False))
            section.collapsedChanged.connect(
                lambda folded, title=section.title_text: remember_fold(self.settings, title, folded))

    def _arrange_docks(self) -> None:
        """The default dock layout, then the user's saved one if any (run once, at the first show).

        Room for the chart at 1280x720: the setup and the metrics share the left column (the form
        is locked during a run, so the metrics come to the front then), the left column runs the
        full height, and tasks and worker sparklines share one bottom strip. Done at the first
        show because tabifying two groups of docks before that leaves a stray tab bar (Qt 6.11).
        """
        self.tabifyDockWidget(self.setup_dock, self.metrics_dock)
        self.tabifyDockWidget(self.tasks_dock, self.workers_dock)
        self.setup_dock.raise_()
        self.tasks_dock.raise_()
        self.resizeDocks([self.setup_dock], [335], Qt.Orientation.Horizontal)  # (the forms on one line a field)
        # A quarter of the height (a fixed 190 px left 4.5 rows of the table on a 1440 px screen).
        self.resizeDocks([self.tasks_dock], [max(190, self.height() // 4)], Qt.Orientation.Vertical)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)
            # The layout as left, but the forms in front: a window closed after a run saved the
            # metrics tab in front, and opened on empty figures beside "Pick a preset or fill the forms".
            self.setup_dock.raise_()

    def showEvent(self, event: QShowEvent) -> None:
        """Lay the docks out the first time the window shows."""
        super().showEvent(event)
        if not self._docks_arranged:
            self._docks_arranged = True
            self._arrange_docks()

    def _build_menus(self, presets: list) -> None:
        a = self.actions_
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(a.open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent_menu(self.recent_menu))
        file_menu.addAction(a.save)
        self.export_menu = file_menu.addMenu("&Export")
        self.export_menu.addAction(a.export)
        self.export_menu.addSeparator()
        for fmt in EXPORT_FORMATS:
            action = self.export_menu.addAction(f"{fmt.label}…")
            action.triggered.connect(lambda _=False, f=fmt: self.export_dialog(f))
        file_menu.addSeparator()
        file_menu.addAction(a.quit)
        run_menu = bar.addMenu("&Run")
        run_menu.addAction(a.run)
        run_menu.addAction(a.stop)
        preset_menu = bar.addMenu("&Presets")
        submenus: dict[str, QMenu] = {}
        for preset in presets:
            if preset.group not in submenus:
                submenus[preset.group] = preset_menu.addMenu(preset.group)
                submenus[preset.group].setToolTipsVisible(True)
            action = submenus[preset.group].addAction(preset.name)
            action.setStatusTip(preset.description)
            action.setToolTip(preset.description)
            action.triggered.connect(lambda _=False, p=preset: self.setup.apply_preset(p))
        preset_menu.setToolTipsVisible(True)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(a.follow)
        view_menu.addAction(a.zoom_fit)
        view_menu.addAction(a.find)
        view_menu.addSeparator()
        for dock in (self.setup_dock, self.metrics_dock, self.workers_dock, self.tasks_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions = QActionGroup(self)
        for name in THEMES:
            action = theme_menu.addAction(name.capitalize() if name != "system" else "System (desktop's own)")
            action.setCheckable(True)
            action.setChecked(name == self.theme)
            action.setData(name)
            self.theme_actions.addAction(action)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a.shortcuts)
        help_menu.addAction(a.about)

    def _build_toolbar(self) -> None:
        a = self.actions_
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (a.run, a.stop):
            bar.addAction(action)
        bar.addSeparator()
        for action in (a.open, a.save, a.export):
            bar.addAction(action)
        bar.addSeparator()
        bar.addAction(a.follow)
        bar.addAction(a.zoom_fit)

    def _build_status_bar(self) -> None:
        self.phase_label = QLabel("ready")
        self.rate_label = QLabel("")
        self.rate_label.setMinimumWidth(150)
        self.rate_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.statusBar().addPermanentWidget(self.phase_label)
        self.statusBar().addPermanentWidget(self.rate_label)
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(STATUS_MS)
        self.status_timer.timeout.connect(self._update_rate)

    def _connect(self) -> None:
        a = self.actions_
        a.run.triggered.connect(self.start_run)
        a.stop.triggered.connect(self.stop_run)
        a.open.triggered.connect(lambda: None if self.bridge.active else self._open_dialog())
        a.save.triggered.connect(lambda: self.export_dialog(NATIVE))
        a.export.triggered.connect(lambda: self.export_dialog(None))
        a.quit.triggered.connect(self.close)
        a.follow.toggled.connect(self.gantt.set_follow)
        self.gantt.followChanged.connect(a.follow.setChecked)  # panning the chart turns follow off
        a.zoom_fit.triggered.connect(self.gantt.zoom_to_fit)
        a.find.triggered.connect(self._focus_find)
        a.shortcuts.triggered.connect(self._show_shortcuts)
        a.about.triggered.connect(self._show_about)
        self.form.validityChanged.connect(lambda _valid: self._update_actions())
        self.bridge.statusChanged.connect(self._on_status)
        self.bridge.runFinished.connect(self._on_finished)
        self.live_numbers.shown.connect(self._show_outcome)
        self.files.opened.connect(self._on_opened)
        # A preset chosen from the menu filled forms hidden behind the metrics tab: nothing seemed to happen.
        self.setup.presetApplied.connect(lambda _preset: self.setup_dock.raise_())
        self.files.preparers = [self.gantt.preparer]  # indexing off the GUI thread: the bars first,
        self.files.later_preparers = [self.gantt.queue_preparer]  # the rest once they are shown
        self.files.saved.connect(self._on_saved)
        self.gantt.taskClicked.connect(self._select_from_chart)
        self.tasks.taskSelected.connect(self._select_from_table)
        self.tasks.matchesChanged.connect(self.gantt.set_matches)
        self.gantt.set_follow(a.follow.isChecked())

    # ---- theme ----------------------------------------------------------------------------------

    def _apply_theme(self, theme: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)

    def set_theme(self, theme: str) -> None:
        """Switch the whole application to ``theme`` now and remember it for the next start."""
        self.theme = theme
        self._apply_theme(theme)
        remember_theme(self.settings, theme)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == theme)

    # ---- settings -------------------------------------------------------------------------------

    def _restore(self) -> None:
        last = read_json(self.settings, "last_config")
        if isinstance(last, dict):
            try:
                self.form.set_value(parse_config(last))
            except ConfigError:
                pass  # an old or hand-edited config: keep the defaults
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 720)

    def _save_settings(self) -> None:
        config = self.form.config()
        if config is not None:  # what the forms hold now, run or not; an invalid form is not kept
            write_json(self.settings, "last_config", config.to_json())
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self._docks_arranged:  # (a window never shown has no layout worth keeping)
            self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    # ---- running --------------------------------------------------------------------------------

    def start_run(self) -> bool:
        """Run the forms' config; False (and nothing starts) when it is invalid or a run is on."""
        if self.bridge.active:
            return False
        config = self.form.validate()
        if config is None:
            self.statusBar().showMessage("Fix the fields marked in red first.", 5000)
            return False
        write_json(self.settings, "last_config", config.to_json())
        self._previous = kept_aside(self.timeline)  # (no copy: see kept_aside)
        self._file_before = self.files.current_file
        try:
            self.bridge.start(config)
        except RuntimeError as exc:
            self.show_error("Cannot run", str(exc))
            return False
        self.files.current_file = None
        # None of the shown run stays on screen (it is kept aside, put back if this one shows
        # nothing): the first batch can come seconds later (a thread pool's tasks hold the GIL
        # while the engine describes the run), and meanwhile the old bars stood under "starting…".
        self.timeline.forget()
        self.statusBar().clearMessage()  # the last run's outcome is not this run's
        self._outcome_due = None  # (a last run's outcome still waiting for its numbers is not this run's)
        self.live_numbers.set_live(True)
        self.gantt.set_live(True)
        self.metrics_dock.raise_()  # the form is locked during a run; its numbers are what changes
        self._title_before = self.windowTitle()
        self._run_started_at = time.strftime("%H:%M:%S")
        self._set_title(f"live run started {self._run_started_at}")
        self.phase_label.setText("starting…")
        self.phase_label.setToolTip("")
        self.status_timer.start()
        self._update_actions()
        return True

    def stop_run(self) -> None:
        """Cancel the run (non-blocking): unfinished tasks arrive as cancelled, then it ends."""
        if self.bridge.active:
            self.bridge.request_stop()
            self.phase_label.setText("stopping…")

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self.bridge.active

    def _on_status(self, status: RunStatus) -> None:
        if status.phase != RunPhase.FINISHED:
            self.phase_label.setText(status.message or status.phase.name.lower())

    def _on_finished(self, result: RunResult) -> None:
        self.status_timer.stop()
        self.live_numbers.set_live(False)
        self.gantt.set_live(False)
        self._update_rate()
        self._update_actions()
        first_line = result.message.splitlines()[0] if result.message else result.outcome
        # The outcome is said with the run's final numbers, not ahead of them: the progress line
        # still showing 126,976 of 200,000 beside "Run completed" read as a run that lost tasks.
        self._outcome_due = (f"{result.outcome}", f"Run {result.outcome}: {first_line}")
        # The run's first batch replaces the shown columns (Timeline.begin); a run that failed before
        # it leaves the previous timeline on screen, which is not this run's.
        shown = self._previous is None or self.timeline.state is not self._previous.state
        nothing_ran = not shown or not (self.timeline.start_ns >= 0).any()
        if not (nothing_ran and result.outcome in (RunOutcome.ERROR, RunOutcome.INVALID)):
            # Until it is saved, the window shows a run that no file holds: say which, and how it ended.
            self._set_title(f"run started {self._run_started_at}, {result.outcome} (not saved)")
        if self.live_numbers.settled:
            self._show_outcome()
        else:
            self.phase_label.setText("finishing…")
        if result.outcome in (RunOutcome.ERROR, RunOutcome.INVALID):
            if nothing_ran:
                # Nothing ran: show the previous timeline again (its title and file) rather than an
                # empty run, and the form, where what failed is to be mended.
                if self._previous is not None and shown:
                    adopt_into(self.timeline, self._previous)
                self.setWindowTitle(self._title_before)
                self.files.current_file = self._file_before
                self.setup_dock.raise_()
            self.show_error("The run failed", result.message)
        self._previous = None

    def _show_outcome(self) -> None:
        """The finished run's outcome in the status bar, once its final numbers are on screen."""
        if self._outcome_due is None or not self.live_numbers.settled:
            return
        phase, message = self._outcome_due
        self._outcome_due = None
        # Why tasks failed, where it stays (a status message goes at the next hover): the kinds
        # beside the outcome, each distinct error in the tooltip, the commonest in the message.
        texts = failed_texts(self.timeline)  # (one pass: ~0.2 s when a million tasks failed)
        kinds, lines = error_kinds(self.timeline, texts), error_lines(self.timeline, texts)
        shown = ", ".join(f"{name} ×{n:,}" for name, n in kinds[:2]) + (", …" if len(kinds) > 2 else "")
        self.phase_label.setText(f"{phase}: {shown}" if kinds else phase)
        self.phase_label.setToolTip("\n".join(line.removeprefix("error: ") for line in lines))
        if lines:
            message = f"{message} ({lines[0].removeprefix('error: ')})"
        self.statusBar().showMessage(message, 15_000)

    def _update_rate(self) -> None:
        rate = self.bridge.event_rate()
        self.rate_label.setText(f"{rate:,.0f} events/s" if self.bridge.active else "")

    def _update_actions(self) -> None:
        a = self.actions_
        running = self.bridge.active
        a.run.setEnabled(not running and self.form.is_valid())
        a.stop.setEnabled(running)
        a.open.setEnabled(not running)
        self.recent_menu.setEnabled(not running)
        has_run = self.timeline.run is not None
        a.save.setEnabled(has_run and not running)
        a.export.setEnabled(has_run and not running)
        self.export_menu.setEnabled(has_run and not running)
        self.form.setEnabled(not running)
        self.setup.preset_box.setEnabled(not running)

    def _focus_find(self) -> None:
        self.tasks_dock.show()
        self.tasks_dock.raise_()
        self.tasks.search.setFocus()
        self.tasks.search.selectAll()

    def _select_from_chart(self, task: int) -> None:
        """A bar was clicked: outline it and select its row (the row then scrolls into view)."""
        self.gantt.select_task(task)
        self.tasks.select_task(task)

    def _select_from_table(self, task: int) -> None:
        """A row was picked: outline its bar and bring the bar into view."""
        self.gantt.select_task(task, reveal=True)
        self._describe_task(task)

    def _describe_task(self, task: int) -> None:
        tl = self.timeline
        if not 0 <= task < tl.n_tasks:
            return
        lane = int(tl.lane[task])
        where = f" on {tl.lanes[lane].name} (pid {tl.lanes[lane].pid})" if 0 <= lane < len(tl.lanes) else ""
        wall = tl.wall_ns()[task]
        took = f", {wall / 1e6:.1f} ms" if wall >= 0 else ""
        state = TaskState(int(tl.state[task])).name.lower()
        self.statusBar().showMessage(f"task {task}: {state}{where}{took}", 10_000)

    # ---- files ----------------------------------------------------------------------------------

    def open_file(self, path: str | Path) -> bool:
        """Open a timeline file, or fill the forms from a run config or preset file (as ``procviz
        run --config`` takes them); on error show why and keep the current timeline and forms."""
        if self.bridge.active:
            self.show_error("Cannot open now", "Stop the run before opening a timeline.")
            return False
        try:
            config = config_file_of(Path(path))
        except ConfigError as exc:
            self.show_error("Cannot use the run config", "\n".join(str(p) for p in exc.problems))
            return False
        if config is None:
            return self.files.open_file(path)
        name = Path(path).name
        if isinstance(config, RunConfig):
            self.setup.show_config(config, f"Run config from {name}.")
        else:  # (the picker names no shipped preset: this file's may share a name, not its fields)
            self.setup.show_config(config.config, config.description or f"Preset {config.name!r} from {name}.")
        self.setup_dock.raise_()  # the forms are what changed: press Run to run it
        self.statusBar().showMessage(f"Filled the forms from {path}: press Run (Ctrl+R) to run it.", 10_000)
        return True

    def _open_dialog(self) -> None:
        path = self.files.ask_open_path("Open a timeline or a run config")
        if path:
            self.open_file(path)

    def save_file(self, path: str | Path, fmt: ExportFormat | None = None) -> bool:
        """Write the timeline to ``path`` (format from ``fmt`` or the file name); False on error."""
        return self.files.save_file(path, fmt)

    def export_dialog(self, fmt: ExportFormat | None) -> None:
        """Ask where to write the timeline (not during a run: it is still changing)."""
        if not self.bridge.active:
            self.files.export_dialog(fmt)

    def _on_opened(self, loaded: Timeline, path: Path) -> None:
        self._outcome_due = None  # a run's outcome still waiting for its numbers is not this file's
        self._set_title(path.name)
        if loaded.run is None:  # readers refuse such a file; nothing to fill the forms with
            return
        try:  # (the description says so: a preset's left beside it would tell another run)
            self.setup.show_config(parse_config(loaded.run.config), f"The run in {path.name}.")
        except ConfigError:
            pass  # a timeline from a newer procviz: show it, leave the forms alone
        self.phase_label.setText("opened")
        self.phase_label.setToolTip("")
        self.metrics_dock.raise_()  # a file is for reading: its numbers, not the form
        self.statusBar().showMessage(
            f"Opened {path}: {count(loaded.n_tasks)} tasks, {len(loaded.lanes)} lanes", 10_000)
        self.gantt.zoom_to_fit()
        self._update_actions()

    def _on_saved(self, path: Path, fmt: ExportFormat) -> None:
        if fmt is NATIVE:
            self._set_title(path.name)
        self.statusBar().showMessage(f"Wrote {path} ({fmt.label})", 10_000)

    def _set_title(self, what: str) -> None:
        self.setWindowTitle(f"procviz — {what}")

    # ---- drag and drop --------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept a dragged local file (a timeline to open)."""
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and not self.bridge.active:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Open the dropped file."""
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            # Open after the drop finishes: an error dialog inside a drop handler blocks the source app.
            path = urls[0].toLocalFile()
            QTimer.singleShot(0, lambda: self.open_file(path))

    # ---- help -----------------------------------------------------------------------------------

    def _show_shortcuts(self) -> None:
        a = self.actions_
        lines = []
        for action in (a.run, a.stop, a.open, a.save, a.export, a.follow, a.zoom_fit, a.find, a.quit):
            keys = " or ".join(s.toString() for s in action.shortcuts())
            lines.append(f"{action.text().replace('&', '').rstrip('…')}: {keys}")
        lines.append("Chart: drag to pan, wheel to zoom")
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join(lines))

    def _show_about(self) -> None:
        QMessageBox.about(self, "About procviz",
                          "procviz runs a Python multiprocessing pool and shows what every worker process "
                          "does: a bar per task, and each worker's measured OS state over time (new, ready, "
                          "running, waiting, terminated).")

    # ---- closing --------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop a run cleanly (no worker left behind) before the window goes."""
        if self.bridge.active:
            self.phase_label.setText("stopping the run…")
            self.bridge.stop_and_wait(5.0)
        self.status_timer.stop()
        self._save_settings()
        event.accept()

    def current_config(self) -> RunConfig | None:
        """The validated config in the forms, or None."""
        return self.form.config()
