"""A named pipe given as the command line's output: waited on until a program reads it, and said.

``procviz run ... --out pipe`` then ``cat pipe`` in another shell is ordinary use, and a run must
not be made only to be lost because its reader came late. Writing into a pipe nobody reads would
wait in ``open()`` without a word (and, with the run's Ctrl-C handler still set, without end);
the file writers give a pipe 2 s (:mod:`procviz.engine.formats.fileio`, for callers that cannot
wait). Here the command waits for as long as it takes, says so once, and a Ctrl-C gives up.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.05


def is_named_pipe(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a named pipe (links followed)."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False  # (the write says what is wrong with the path)


def is_fifo_entry(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` itself is a named pipe in the file system (made by mkfifo; not a link to
    one, such as the shell's ``<(command)``, /dev/fd/N, whose writer is already running)."""
    try:
        return stat.S_ISFIFO(os.lstat(path).st_mode)
    except OSError:
        return False


@contextmanager
def reader_awaited(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    """If ``path`` is a named pipe, return once a program has it open for reading (``say`` is
    told once that it waits), and keep a writing end open until the block ends: the reader must
    not see the end of the data between this check and the write. Anything else: at once."""
    is_pipe = is_named_pipe(path)
    fd = -1
    told = False
    while is_pipe:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet; anything else, the write says
                break
            if not told:
                say(f"waiting for a program to read {path} (Ctrl-C gives up)")
                told = True
            time.sleep(POLL_S)
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)
