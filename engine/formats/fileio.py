"""Bytes in and out of timeline files: size-checked reads, gzip, atomic writes.

Every reader goes through :func:`read_limited`, which refuses a file larger than
:data:`MAX_FILE_BYTES` *before* parsing anything, and refuses a gzip file whose content
would decompress past the same limit (a small .gz can hold gigabytes of zeros).

Every writer goes through :func:`atomic_output`: the data goes to a temporary file in the target's
folder, is flushed and fsynced, then renamed over the target, so a crash or a full disk never
leaves a half-written timeline under the real name. The temporary leaves no litter either: see
:mod:`procviz.engine.formats.tmpfiles` (a nameless file where Linux offers one, else a name that
says which process writes it, removed by the next write into that folder once that process is dead).
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from procviz.engine.formats.errors import TimelineFileError

# 1 GiB: a 1,000,000-task run is about 0.1 GB as native JSON or CSV and about 0.5 GB as a Chrome
# trace (see benchmarks/bench_export.py), so this leaves room while keeping a parse of the largest
# accepted file within a few GB of memory. One constant for every format and for gzip content.
# Measured peak memory while reading (tests/test_faults_cli.py refuses past these): native JSON
# about 8x the file, CSV about 16x (one Python object per cell), a Chrome trace about 2.5x. Each
# limit keeps a read near 1 GB at most.
MAX_FILE_BYTES = 256 << 20  # any file, and what a gzip file may decompress to
MAX_NATIVE_BYTES = 128 << 20
MAX_CSV_BYTES = 128 << 20  # a 1,000,000-task run (the largest procviz runs) writes ~100 MB of CSV: it must reopen it
FORMAT_LIMITS = {"json": MAX_NATIVE_BYTES, "chrome": MAX_FILE_BYTES, "csv": MAX_CSV_BYTES}


def check_format_size(path: str, fmt: str, size: int) -> None:
    """Refuse ``size`` bytes of a ``fmt`` file past its documented limit, before parsing it."""
    limit = FORMAT_LIMITS[fmt]
    if size > limit:
        raise TimelineFileError(path, "file", "", f"is {size} bytes of {fmt.upper()}; procviz reads at most "
                                f"{limit >> 20} MiB of {fmt.upper()} (see the README's limits)")
GZIP_MAGIC = b"\x1f\x8b"
# Level 1: a 1M-task Chrome trace is ~0.5 GB of very repetitive JSON; level 1 still shrinks it
# about 8x and is several times faster than the default level 9.
GZIP_LEVEL = 1
_WRITE_BUFFER = 1 << 20
# Every this many bytes the written part is handed to the disk (asynchronous writeback, see
# _WritebackFile), so the final fsync waits for the last stretch only, not for the whole file: a
# 500 MB trace's fsync took 0.3 s after the last write, now a few ms.
WRITEBACK_BYTES = 32 << 20
# A named pipe given as the output is written once a program reads it: `procviz export t.json
# --out pipe & cat pipe` may start the reader a moment after procviz. Past this, it is refused.
FIFO_WAIT_S = 2.0
FIFO_POLL_S = 0.02


def read_limited(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes (decompressed when it is gzip), refusing anything over MAX_FILE_BYTES."""
    p = os.fspath(path)
    limit = MAX_FILE_BYTES
    size = os.stat(p).st_size
    if size > limit:
        raise TimelineFileError(p, "file", "", f"is {size} bytes; timeline files are limited to {limit} bytes")
    with open(p, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while we looked
        raise TimelineFileError(p, "file", "", f"is over the {limit}-byte limit for timeline files")
    if data[:2] != GZIP_MAGIC:
        return data
    return _gunzip_limited(p, data, limit)


def _gunzip_limited(path: str, data: bytes, limit: int) -> bytes:
    # Decompress in bounded steps so a gzip bomb is refused after limit+1 bytes, not after OOM.
    out = bytearray()
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        rest = data
        while rest:
            out += d.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise TimelineFileError(path, "file", "", f"decompresses to more than {limit} bytes")
            rest = d.unconsumed_tail
            if d.eof:
                # A concatenated gzip member may follow; gzip files written by procviz have one.
                if d.unused_data:
                    raise TimelineFileError(path, "file", "", "holds more than one gzip member"
                                            if d.unused_data.startswith(b"\x1f\x8b") else
                                            "has data after its gzip stream")
                break
        if not d.eof:
            raise TimelineFileError(path, "file", "", "the gzip data is truncated")
    except zlib.error as exc:
        raise TimelineFileError(path, "file", "", f"is not valid gzip data ({exc})") from None
    return bytes(out)


def _default_mode() -> int:
    # A new file gets 0666 minus the umask, like open() would give it. The umask is read from
    # /proc where possible because os.umask() sets it process-wide, racing with other threads.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


class _WritebackFile:
    """A buffered binary file that starts the disk writing of what it has written every
    WRITEBACK_BYTES (``posix_fadvise(DONTNEED)``: Linux starts writing those pages back at once,
    without waiting, and forgets them once clean), so the disk works while the writer computes the
    rest. Only ``write`` and ``flush`` are needed by the writers and by gzip."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.fd = raw.fileno()
        self.written = 0
        self.handed = 0  # bytes already handed to the disk

    def write(self, data: bytes) -> int:
        """Write ``data`` (bytes or any buffer)."""
        count = self.raw.write(data)
        self.written += count
        if self.written - self.handed >= WRITEBACK_BYTES:
            self.raw.flush()
            os.posix_fadvise(self.fd, self.handed, self.written - self.handed, os.POSIX_FADV_DONTNEED)
            self.handed = self.written
        return count

    def flush(self) -> None:
        """Flush the buffer to the file."""
        self.raw.flush()


def _open_fifo(path: str | os.PathLike[str]) -> BinaryIO:
    """A named pipe opened for writing once a program reads it, for at most FIFO_WAIT_S.

    A plain open() waits for a reader for ever: the command hung, and the window froze (it saves
    on its own thread)."""
    deadline = time.monotonic() + FIFO_WAIT_S
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: nobody has it open for reading (yet)
                raise
            if time.monotonic() >= deadline:
                raise OSError(errno.ENXIO, f"no program is reading that named pipe (waited {FIFO_WAIT_S:g} s)",
                              os.fspath(path)) from None
            time.sleep(FIFO_POLL_S)
    os.set_blocking(fd, True)  # writes then wait for the reader, as into any pipe
    return os.fdopen(fd, "wb")


@contextmanager
def atomic_output(path: str | os.PathLike[str], compress: bool = False) -> Iterator[BinaryIO]:
    """A binary stream that becomes ``path`` only when the ``with`` block ends without error."""
    from procviz.engine.formats.tmpfiles import TempOutput  # (only writers need it)

    # Decided on what the path names (links followed), before any realpath: /dev/stdout resolves to
    # /proc/self/fd/1, which may be a pipe or a file opened for appending, written in place.
    try:
        kind = os.stat(path).st_mode
    except FileNotFoundError:
        kind = stat.S_IFREG
    if stat.S_ISDIR(kind):
        raise IsADirectoryError(errno.EISDIR, "it is a folder", str(path))
    if stat.S_ISBLK(kind) or stat.S_ISSOCK(kind):
        raise OSError(errno.EINVAL, "it is a disk or a socket", str(path))
    in_place = str(path).startswith(("/dev/std", "/proc/self/fd/", "/dev/fd/"))
    if in_place or not stat.S_ISREG(kind):
        # A character device or a FIFO (/dev/null, a named pipe), or a stream this process was
        # given (/dev/stdout: a pipe, or a file opened for appending) is written into: renamed
        # over, it would be replaced by a plain file (as root, /dev/null itself).
        with (open(path, "ab" if in_place else "wb") if not stat.S_ISFIFO(kind) or in_place
              else _open_fifo(path)) as raw:
            if compress:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as gz:
                    yield gz  # type: ignore[misc]
            else:
                yield raw
        return
    # A symbolic link stays one: the file it names is written (a rename would put the new file in
    # place of the link, cutting it from its file).
    target = Path(os.path.realpath(path))
    temp = TempOutput(target)
    try:
        # The descriptor stays open after the buffered file closes: a nameless temporary must
        # still be open when it is linked into the folder.
        with os.fdopen(temp.fd, "wb", buffering=_WRITE_BUFFER, closefd=False) as raw:
            out: BinaryIO = _WritebackFile(raw) if hasattr(os, "posix_fadvise") else raw  # type: ignore[assignment]
            if compress:
                # mtime=0 and no file name in the header: the same timeline gives the same bytes.
                with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=GZIP_LEVEL, mtime=0) as gz:
                    yield gz  # type: ignore[misc]
            else:
                yield out
            raw.flush()
            # Kept on purpose: without it a crash soon after the rename may leave the target empty
            # or cut short (ext4's auto_da_alloc flushes before a rename only when it replaces an
            # existing file, other file systems not at all), and "never a half-written file at the
            # target" would hold only until the power fails. Its cost is the last WRITEBACK_BYTES
            # stretch, not the whole file: 28 ms after a 313 MB Chrome trace (the fsync column of
            # `python benchmarks/bench_export.py`, load 14), where writing the file took seconds.
            os.fsync(raw.fileno())
        try:
            mode = target.stat().st_mode & 0o7777  # keep the permissions of a file we replace
        except FileNotFoundError:
            mode = _default_mode()
        temp.publish(mode)
    except BaseException:
        temp.discard()
        raise
