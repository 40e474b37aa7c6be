"""Ending a finished command's process without the interpreter's teardown.

After ``procviz run`` has printed its summary, nothing is left to do but exit; yet a normal exit
then tears down every module (numpy's alone costs ~50-100 ms here) and frees every object one by
one. :func:`exit_fast` runs what exit must run (the atexit handlers, among them multiprocessing's,
which ends and removes what it started), flushes the standard streams and ends the process.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_fast(code: int) -> NoReturn:
    """Exit with ``code`` now: atexit handlers run, module teardown does not.

    Falls back to a normal exit when a non-daemon thread is still running: the interpreter would
    wait for it, and so must this.
    """
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed or replaced stream: nothing to flush
            pass
    os._exit(code)
