"""The standard streams' descriptors held open, so that no file of procviz's takes their numbers.

Started with one closed (``procviz run ... >&-``), the next file procviz opened got its number:
descriptor 1 became a socket of the run or the timeline being written, and every line printed to
"stdout" went into it. The C library and every shell do the same guard: a closed 0, 1 or 2 is
opened on ``/dev/null`` before anything else is.
"""

from __future__ import annotations

import os


def hold_standard_streams() -> None:
    """Open ``/dev/null`` on each of descriptors 0, 1, 2 that is closed (call it first thing)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return  # no /dev/null: nothing better to hold them with
            if null != fd:  # (the lowest free number: fd itself, when the lower ones are open)
                os.dup2(null, fd)
                os.close(null)
