"""The ``procviz`` command: the window, or the headless ``run`` / ``export`` subcommands.

``procviz run ...`` and ``procviz export ...`` are handed to :func:`procviz.engine.cli.main` before
anything imports Qt, so they work on machines without a display or Qt libraries (this module
imports PySide6 only inside the functions that open the window or draw an image).

Ctrl-C in the terminal closes the window the same way as its close button: the run is stopped
cleanly first. Qt's event loop runs in C++, where Python cannot run a signal handler, so a
periodic timer gives the interpreter a chance to notice the signal.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

HEADLESS_COMMANDS = ("run", "export")
SIGNAL_POLL_MS = 200


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``procviz``; returns the exit code."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and argv[1] in HEADLESS_COMMANDS:
        from procviz.engine.cli import main as cli_main

        return cli_main(argv[1:], image_writer=render_image)
    return run_window(argv[1:])


def render_image(timeline: Any, path: Path, width: int, height: int, fmt: str) -> None:
    """Draw a timeline to PNG/SVG for the headless export (imports Qt only now; no display needed)."""
    from procviz.gui.render import render_timeline

    render_timeline(timeline, path, width, height, fmt=fmt)


def parse_window_args(args: list[str]) -> argparse.Namespace:
    """Options of the window: an optional timeline file to open, a theme, a settings file."""
    from procviz.gui.theme import THEMES

    parser = argparse.ArgumentParser(
        prog="procviz",
        description="Run a Python multiprocessing pool and watch its worker processes live. "
                    "Headless: 'procviz run --help', 'procviz export --help'.",
    )
    parser.add_argument("timeline", nargs="?", type=Path,
                        help="a timeline file to open (JSON, CSV, Chrome trace)")
    parser.add_argument("--theme", choices=THEMES, default=None,
                        help="colour theme (default: the one last chosen in View > Theme, else the system's)")
    parser.add_argument("--settings", type=Path, help="keep settings in this INI file instead of the user's")
    return parser.parse_args(args)


def run_window(args: list[str]) -> int:
    """Open the main window (and a timeline, if given) and run the event loop."""
    options = parse_window_args(args)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import APPLICATION, ORGANIZATION, make_settings

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "procviz", *args])
    assert isinstance(app, QApplication)  # the widgets need a QApplication, not a QCoreApplication
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(settings=make_settings(options.settings), theme=options.theme)
    install_quit_on_signals(window)  # before show(): a Ctrl-C from then on closes the window
    window.show()
    if options.timeline is not None:
        QTimer.singleShot(0, lambda: window.open_file(options.timeline))
    return app.exec()


def install_quit_on_signals(window: Any) -> Any:
    """Make Ctrl-C (SIGINT) and SIGTERM close ``window`` cleanly; returns the polling timer."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    def quit_now() -> None:
        # The same path as the close button (which stops a run cleanly), then leave every event
        # loop, a modal dialog's included.
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
