"""A crash of procviz's own process says where it happened, on stderr.

The thread backends (``thread_pool_executor``, ``threads``) run the user's tasks in procviz's own
process, so a task that segfaults (a C extension, ``ctypes``) took procviz down with nothing on
stderr: no timeline, no word of which task. With :mod:`faulthandler` on, a fatal signal (SIGSEGV,
SIGBUS, SIGFPE, SIGILL, SIGABRT) first writes the crashing thread's Python traceback to stderr:
a task's, its function on top. The same holds for a crash inside Qt in the window. The exit
status stays the signal's. A forked worker turns it off: its crash is reported as its death, as
the user's own program would see it, with no traceback of procviz's threads in between.
(``os._exit()`` is no crash: it still ends procviz without a word.)
"""

from __future__ import annotations

import faulthandler
import os


def report_crashes() -> None:
    """Write the crashing thread's traceback to stderr on a fatal signal in this process (not in
    the processes it forks); nothing where stderr cannot be written."""
    try:
        faulthandler.enable(all_threads=False)  # the crashing thread: a task's, in its function
    except (RuntimeError, ValueError, OSError):  # stderr closed or without a file descriptor
        return
    os.register_at_fork(after_in_child=faulthandler.disable)
