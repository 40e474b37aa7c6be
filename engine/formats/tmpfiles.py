"""The temporary file behind an atomic write, made so that a writer killed mid-write leaves no litter.

1. Where Linux offers it (``O_TMPFILE``: ext4, xfs, btrfs, tmpfs and most local file systems), the
   data goes to a file *without a name* in the target's folder. Only once it is complete is it
   given a name (``linkat`` of its descriptor: through ``/proc/self/fd``, or with ``AT_EMPTY_PATH``
   where that link is refused, as in some containers) and renamed over the target. Whether a
   folder's file system allows both steps is tried once per file system with an empty file. A writer killed
   while writing (SIGKILL, a crash, the power) leaves nothing: the kernel frees a nameless file when
   its last descriptor closes. Only the two system calls between the link and the rename see a name.
2. Elsewhere (or in that short window), the temporary has a name that says whose it is:
   ``.<target>.procviz-<pid>-<start>-<random>.tmp``, ``start`` being the writer's start time (clock
   ticks since boot, ``/proc/<pid>/stat``), so a PID the system has since given to another process
   is not taken for the writer. Every write first removes its folder's temporaries whose writer is
   gone (:func:`sweep_stale`); a live writer's temporary is never touched.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from procviz.engine.guardian_proc import stat_of

# The folder's temporaries of any target: the writer's PID and start time are groups 1 and 2.
_TEMP_NAME = re.compile(r"^\..*\.procviz-(\d+)-(\d+)-[0-9a-f]+\.tmp$")
# A file system or kernel without O_TMPFILE says so with one of these (EISDIR: a kernel older than
# 3.11 ignores the flag and opens the folder itself).
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}
_FD_LINKS = "/proc/self/fd"
_AT_FDCWD, _AT_EMPTY_PATH = -100, 0x1000  # (Linux values)
_REFUSED = {errno.EXDEV, errno.ENOENT, errno.EPERM, errno.EACCES, errno.EOPNOTSUPP, errno.EINVAL}
_NAMELESS_WORKS: dict[int, bool] = {}  # per file system (st_dev): O_TMPFILE and linking it both work
# False: always the named temporary (the fallback), e.g. to test it where O_TMPFILE works.
NAMELESS = True


def start_ticks(pid: int) -> int:
    """The process's start time in clock ticks since boot (field 22 of ``/proc/<pid>/stat``); 0 where
    that cannot be read (not Linux, or the process is gone)."""
    stat = stat_of(pid)
    return 0 if stat is None else stat[1]


def writer_alive(pid: int, start: int) -> bool:
    """Whether the process that named a temporary ``pid``/``start`` still runs (a reused PID with
    another start time does not count; where start times cannot be read, any process with the PID
    counts as the writer, so a live writer's file is never removed)."""
    if os.name == "nt":  # (signal 0 there is CTRL_C_EVENT, not a probe: never sweep)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # (someone else's process: it exists)
        pass
    now = start_ticks(pid)
    return not (now and start and now != start)


def sweep_stale(folder: Path) -> list[str]:
    """Remove the temporaries in ``folder`` whose writer is dead; returns their names."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or writer_alive(int(match[1]), int(match[2])):
            continue
        try:
            os.unlink(entry.path)
        except OSError:  # (gone already, or not ours to remove: a sticky shared folder)
            continue
        removed.append(entry.name)
    return removed


class TempOutput:
    """An open temporary for ``target`` (see the module docstring): write to :attr:`fd`, then
    :meth:`publish` it over the target, or :meth:`discard` it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.folder = target.parent
        self.path: Path | None = None  # its name, while it has one
        sweep_stale(self.folder)
        fd = self._open_nameless() if NAMELESS else None
        self.fd: int = self._create_named() if fd is None else fd

    def _open_nameless(self) -> int | None:
        flag = getattr(os, "O_TMPFILE", 0)
        if not flag:
            return None
        try:
            fd = os.open(self.folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno in _NO_TMPFILE:
                return None
            raise
        dev = os.fstat(fd).st_dev
        if dev not in _NAMELESS_WORKS:
            _NAMELESS_WORKS[dev] = self._can_link(flag)
        if not _NAMELESS_WORKS[dev]:
            os.close(fd)
            return None
        return fd

    def _can_link(self, flag: int) -> bool:
        """Whether an empty nameless file can be given a name here (and that name removed again)."""
        fd = os.open(self.folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            path = self._fresh_name()
            try:
                link_fd(fd, path)
            except OSError as exc:
                if exc.errno in _REFUSED:
                    return False
                raise
            os.unlink(path)
            return True
        finally:
            os.close(fd)

    def _fresh_name(self) -> Path:
        tag = f".procviz-{os.getpid()}-{start_ticks(os.getpid())}-{os.urandom(4).hex()}.tmp"
        # The target's name is cut so that the temporary's fits the folder's limit (a target named
        # with 220 of 255 bytes was refused as "file name too long", though it could be written).
        room = name_max(self.folder) - 1 - len(tag)
        return self.folder / ("." + os.fsdecode(os.fsencode(self.target.name)[:max(room, 1)]) + tag)

    def _create_named(self) -> int:
        while True:
            path = self._fresh_name()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue
            self.path = path
            return fd

    def publish(self, mode: int) -> None:
        """Give the written file ``mode`` and put it in place of the target (the descriptor is
        closed; the caller has flushed and fsynced it)."""
        os.fchmod(self.fd, mode)
        while self.path is None:  # nameless: link it into the folder first
            path = self._fresh_name()
            try:
                link_fd(self.fd, path)
            except FileExistsError:
                continue
            self.path = path
        os.replace(self.path, self.target)
        self.path = None
        self.close()

    def discard(self) -> None:
        """Close and remove the temporary (nothing to remove when it has no name)."""
        self.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None

    def close(self) -> None:
        """Close the descriptor (once)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, ``folder``'s file system takes (255 where it does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def link_fd(fd: int, path: Path) -> None:
    """Give the nameless file open as ``fd`` the name ``path`` (``linkat``); raises OSError."""
    try:
        os.link(f"{_FD_LINKS}/{fd}", path)
        return
    except OSError as exc:
        if exc.errno not in _REFUSED:
            raise
    import ctypes  # (only where the /proc link is refused)

    linkat = ctypes.CDLL(None, use_errno=True).linkat
    if linkat(fd, b"", _AT_FDCWD, os.fsencode(path), _AT_EMPTY_PATH) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(path))
