"""Ctrl-C or SIGTERM while the ``procviz`` command starts up or winds down: exit 3, one line.

Python's own Ctrl-C raises KeyboardInterrupt wherever the main thread happens to be: during
procviz's imports (the first half second) that is a 20-line traceback out of ``typing`` or
``importlib``, or, inside numpy's import, a misleading "bad install" message. The command installs
:func:`exit_quietly_on_interrupt` first; the run (``procviz run``) and the window install their own
handlers while they need them, and this one is back once the run's are gone. Nothing of a run is
alive when it acts (before a run nothing was started; after it the run was swept), so it leaves at
once with the CLI's "stopped or interrupted" code.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

EXIT_INTERRUPTED = 3  # procviz.engine.cli.EXIT_STOPPED (a test keeps them equal; cli is heavy to import)


def _leave(signum: int, frame: FrameType | None) -> None:
    for stream in (sys.stdout, sys.stderr):  # what was printed before the signal stays printed
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError):  # closed, or interrupted mid-write (reentrant)
            pass
    os.write(2, f"procviz: interrupted by {signal.Signals(signum).name}\n".encode())
    os._exit(EXIT_INTERRUPTED)


def exit_quietly_on_interrupt() -> None:
    """From now on, SIGINT and SIGTERM end this process with exit code 3 and one line on stderr
    (a signal this process was started with ignored, as a shell does for a background job, stays
    ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _leave)
