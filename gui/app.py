"""The ``procviz`` command: the window, or the headless subcommands (``run``, ``export``, ``presets``).

The subcommands and ``--version`` are handed to :func:`procviz.engine.cli.main` before anything
imports Qt, so they work on machines without a display or Qt libraries (this module imports
PySide6 only inside the functions that open the window or draw an image). Before the window's
QApplication exists, :mod:`procviz.gui.qt_check` makes sure Qt can start here: if not, procviz
says what is missing and exits 2 instead of letting Qt abort.

Ctrl-C in the terminal closes the window the same way as its close button: the run is stopped
cleanly first. Qt's event loop runs in C++, where Python cannot run a signal handler, so a
periodic timer gives the interpreter a chance to notice the signal.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

HEADLESS_COMMANDS = ("run", "export", "presets")  # procviz.engine.cli.COMMANDS (a test keeps them equal)
VERSION_FLAGS = ("-V", "--version")
SIGNAL_POLL_MS = 200
log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``procviz``; returns the exit code.

    Called as the program (no ``argv``), it ends the process itself once done, skipping the
    interpreter's teardown (see :mod:`procviz.engine.process_exit`): a headless command to save
    the time, the window to be safe. Tearing PySide6 and pyqtgraph objects down one by one after
    the event loop has ended is a known way to crash at exit (pyqtgraph's own ``exit()`` says so);
    the window exited with SIGSEGV there about once in hundreds of closes on a loaded machine. By
    then everything worth keeping is done: a run is stopped and the settings are written when the
    window closes, and the atexit handlers (multiprocessing's, logging's) still run.
    """
    as_program = argv is None
    if as_program:  # a Ctrl-C during the imports below: exit 3 and one line, not a traceback
        from procviz.engine.crash_report import report_crashes
        from procviz.engine.interrupts import exit_quietly_on_interrupt
        from procviz.engine.main_module import skip_main_module_in_workers
        from procviz.engine.std_streams import hold_standard_streams

        hold_standard_streams()  # before any file or socket of a run is opened
        report_crashes()  # a task of a thread backend that segfaults names itself on stderr
        exit_quietly_on_interrupt()
        skip_main_module_in_workers()  # the launcher script: no worker needs it run again
    argv = list(sys.argv if argv is None else argv)
    first = next((arg for arg in argv[1:] if not arg.startswith("-")), None)  # procviz -v run ... too
    if first in HEADLESS_COMMANDS or (len(argv) > 1 and argv[1] in VERSION_FLAGS):
        from procviz.engine.run_helpers import start_for_command_line

        start_for_command_line(argv[1:])  # a run's helper processes boot while the CLI is imported
        from procviz.engine.cli import main as cli_main

        code = cli_main(argv[1:], image_writer=render_image)
        if as_program:
            from procviz.engine.process_exit import exit_fast

            exit_fast(code)
        return code
    code = run_window(argv[1:])
    if as_program:
        end_window_process(code)
    return code


def end_window_process(code: int) -> NoReturn:
    """End the window's process once its event loop has ended: the atexit handlers run
    (multiprocessing's, logging's), Qt's teardown and the interpreter's do not.

    PySide6 registers its own module shutdown as an atexit handler: it deletes the QApplication
    and every wrapper one by one, with the window's widgets still alive, just before the process
    ends anyway. That is the same teardown :func:`main` skips, and it crashed there too: SIGSEGV
    in the atexit handlers after a close, once in a fresh-clone CI run of
    tests/test_gui_run.py (the spawner thread idle, the main thread in ``exit_fast``)."""
    import atexit

    from PySide6 import QtCore

    shutdown = getattr(QtCore, "__moduleShutdown", None)
    if shutdown is not None:
        atexit.unregister(shutdown)
    from procviz.engine.process_exit import exit_fast

    exit_fast(code)


def render_image(timeline: Any, path: Path, width: int, height: int, fmt: str) -> None:
    """Draw a timeline to PNG/SVG for the headless export (imports Qt only now; no display needed).

    A headless export never needs a display, so it always uses Qt's offscreen platform (a set but
    unreachable DISPLAY would otherwise abort the export). Qt's own messages go to the log (seen
    with ``--verbose``), not to stderr.
    """
    from PySide6.QtCore import qInstallMessageHandler

    from procviz.gui.render import render_timeline

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    previous = qInstallMessageHandler(_qt_message_to_log)
    try:
        render_timeline(timeline, path, width, height, fmt=fmt)
    finally:
        qInstallMessageHandler(previous)


def _qt_message_to_log(mode: Any, context: Any, message: str) -> None:
    """Qt messages during a headless export (e.g. "This plugin does not support propagateSizeHints()")."""
    log.debug("Qt: %s", message)


def window_parser() -> argparse.ArgumentParser:
    """The parser of ``procviz [TIMELINE]``; its help lists the headless commands and the exit codes."""
    from procviz.engine.cli import COMMANDS, EXIT_CODES_HELP, VERSION

    commands = "\n".join(f"  {name:<9} {text}" for name, text in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="procviz",
        usage="procviz [-h] [-V] [-v] [--theme THEME] [--settings FILE] [TIMELINE]\n"
              "       procviz {" + ",".join(COMMANDS) + "} ...",
        description="Run a Python multiprocessing pool and watch its worker processes live.",
        epilog=f"commands (headless, no display needed; procviz COMMAND --help):\n{commands}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("timeline", nargs="?", type=Path, metavar="TIMELINE",
                        help="a timeline file to open (JSON, CSV, Chrome trace), or a run config or preset "
                             "file to fill the forms with")
    parser.add_argument("-V", "--version", action="version", version=VERSION)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug detail)")
    themes = _themes()
    parser.add_argument("--theme", choices=themes, default=None, metavar="THEME",
                        help=f"colour theme: {', '.join(themes or ('system',))} "
                             "(default: the one last chosen in View > Theme, else the system's)")
    parser.add_argument("--settings", type=Path, metavar="FILE",
                        help="keep settings in this INI file instead of the user's")
    return parser


def _themes() -> tuple[str, ...] | None:
    """The theme names, or None when Qt cannot even be imported (the Qt check then says why)."""
    try:
        from procviz.gui.theme import THEMES
    except ImportError:
        return None
    return THEMES


def parse_window_args(args: list[str]) -> argparse.Namespace:
    """Options of the window: an optional timeline file to open, a theme, a settings file."""
    return window_parser().parse_args(args)


def run_window(args: list[str]) -> int:
    """Check that Qt can start, open the main window (and a timeline, if given), run the event loop."""
    options = parse_window_args(args)
    # Ctrl-C while the window is still being built must quit it too: note the signal now, act on
    # it once the event loop runs (install_quit_on_signals below takes over from then on).
    pending: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: pending.append(signum))
    from procviz.engine.cli import EXIT_INVALID, EXIT_STOPPED, setup_logging
    from procviz.gui.qt_check import check

    setup_logging(options.verbose)
    problem = check()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_INVALID
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "procviz", *args])
    assert isinstance(app, QApplication)  # the widgets need a QApplication, not a QCoreApplication
    configure_app(app)
    # the theme: --theme for this session, else the one remembered from View > Theme
    window = MainWindow(settings=make_settings(options.settings), theme=options.theme)
    stopped_runs: list[bool] = []  # per signal that closed the window: whether it stopped a run
    install_quit_on_signals(window, stopped_runs)  # before show(): a Ctrl-C from then on closes the window
    log.info("window open; Ctrl-C or SIGTERM closes it")  # (tests wait for this line)
    window.show()
    if options.timeline is not None:
        # (not once a Ctrl-C has closed the window: no read, no error dialog while the app quits)
        QTimer.singleShot(0, lambda: window.isVisible() and window.open_file(options.timeline))
    if pending:
        QTimer.singleShot(0, lambda: (window.close(), QApplication.quit()))
    code = app.exec()
    # No Python thread may be computing, or emitting to Qt, while the interpreter then tears Qt
    # down (a daemon thread running through finalization is a known way to crash at exit).
    window.live_numbers.worker.close(wait_s=2.0)
    # A run a signal stopped ends the program as `procviz run`'s does (exit code 3: stopped).
    return EXIT_STOPPED if code == 0 and any(stopped_runs) else code


def configure_app(app: Any) -> None:
    """Names (settings location, desktop entry) and the window icon of ``app`` (the window applies the theme)."""
    from procviz.gui.settings import APPLICATION, ORGANIZATION

    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setDesktopFileName(APPLICATION)  # matches resources/procviz.desktop (Wayland's window-to-entry link)
    app.setWindowIcon(app_icon())


def app_icon() -> Any:
    """The application icon (``resources/icons/procviz.png``) as a QIcon, read with importlib.resources."""
    from PySide6.QtGui import QIcon, QPixmap

    from procviz.resources import ICON_PNG, read_bytes

    pixmap = QPixmap()
    pixmap.loadFromData(read_bytes(ICON_PNG), "PNG")
    return QIcon(pixmap)


def install_quit_on_signals(window: Any, stopped_runs: list[bool] | None = None) -> Any:
    """Make Ctrl-C (SIGINT) and SIGTERM close ``window`` cleanly; returns the polling timer.
    ``stopped_runs`` gets, per signal that closed it, whether a run was going on (it is stopped)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def quit_now() -> None:
        # The same path as the close button (which stops a run cleanly), then leave every event
        # loop, a modal dialog's included.
        if stopped_runs is not None:
            stopped_runs.append(bool(window.running))
        window.close()
        QApplication.quit()

    def on_signal(signum: int, frame: Any) -> None:
        # Runs on the main thread between Python bytecodes, possibly before the event loop has
        # started (quit() would then be lost): a zero timer quits as soon as the loop runs.
        QTimer.singleShot(0, quit_now)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    timer = QTimer(window)
    timer.setInterval(SIGNAL_POLL_MS)
    timer.timeout.connect(lambda: None)  # wakes Python so a pending signal handler runs
    timer.start()
    return timer


if __name__ == "__main__":
    sys.exit(main())
