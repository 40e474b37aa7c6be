"""Worker exits noticed when the kernel reports them, with each thread's final counters.

A backend hears of a worker's death when its own join or sentinel loop gets round to it: 2 to
400 ms late, during which a dead process would be drawn alive and a killed task would run on.
Here one thread blocks in ``poll`` on a pidfd per watched worker (Linux >= 5.3; a thread's own
pidfd with ``PIDFD_THREAD`` on Linux >= 6.9). A process pidfd becomes readable when the process
has exited and is a zombie, not yet reaped: its ``schedstat`` is still readable then, so the
lane's last window ends with the kernel's final counters, and ``waitid(WNOWAIT)`` tells the exit
code without taking the child from its owner.

Where pidfds are missing (old kernels, another OS) :meth:`ExitWatch.watch` returns False and the
sampler notices the exit itself at its next tick.
"""

from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass

from procviz.engine.worker.clock import schedstat_path

PIDFD_THREAD = os.O_EXCL  # linux/pidfd.h: a pidfd for one thread rather than its process


@dataclass(frozen=True, slots=True)
class KernelExit:
    """A worker thread or process the kernel reported gone."""

    pid: int
    tid: int
    t_ns: int  # when the pidfd became readable (monotonic)
    exit_code: int | None  # multiprocessing convention (-N = killed by signal N); None = unknown
    cpu_ns: int = -1  # final schedstat counters, -1 when they could not be read in time
    ready_ns: int = -1


@dataclass(slots=True)
class _Watched:
    pid: int
    tid: int
    pidfd: int
    stat_fd: int


def _exit_code(pidfd: int) -> int | None:
    """The exit code of an exited child without reaping it; None for a non-child."""
    try:
        res = os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOWAIT | os.WNOHANG)
    except (OSError, AttributeError):
        return None
    if res is None:
        return None
    if res.si_code == os.CLD_EXITED:
        return res.si_status
    return -res.si_status


def _close(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


class ExitWatch:
    """A background thread that reports watched workers' exits; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[int, _Watched] = {}  # pidfd -> watched
        self._exits: list[KernelExit] = []
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._thread: threading.Thread | None = None

    def watch(self, pid: int, tid: int) -> bool:
        """Watch a worker thread (``tid == pid``: its process); False if the kernel cannot."""
        try:
            pidfd = os.pidfd_open(pid) if tid == pid else os.pidfd_open(tid, PIDFD_THREAD)
        except (OSError, AttributeError):
            return False
        try:
            stat_fd = os.open(schedstat_path(pid, tid), os.O_RDONLY)
        except OSError:
            stat_fd = -1
        with self._lock:
            if self._closed:
                _close(pidfd)
                _close(stat_fd)
                return False
            self._watched[pidfd] = _Watched(pid, tid, pidfd, stat_fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="procviz-exits", daemon=True)
                self._thread.start()
        try:
            os.write(self._wake_w, b"w")
        except OSError:
            pass  # closing meanwhile
        return True

    def take(self) -> list[KernelExit]:
        """Exits reported since the last call, in the order the kernel reported them."""
        with self._lock:
            out, self._exits = self._exits, []
        return out

    def close(self) -> None:
        """Stop the thread; it releases every descriptor as it ends (at once if it never ran)."""
        with self._lock:
            self._closed = True
            started = self._thread is not None
        if not started:
            self._release()
            return
        try:
            os.write(self._wake_w, b"q")
        except OSError:
            pass
        assert self._thread is not None
        self._thread.join(2.0)

    def _release(self) -> None:
        with self._lock:
            for w in self._watched.values():
                _close(w.pidfd)
                _close(w.stat_fd)
            self._watched.clear()
            _close(self._wake_r)
            _close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def _run(self) -> None:
        try:
            self._loop()
        except OSError:
            pass  # a descriptor gone under us: nothing more to watch
        finally:
            self._release()

    def _loop(self) -> None:
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        registered: set[int] = set()
        while True:
            with self._lock:
                if self._closed:
                    return
                for fd in self._watched.keys() - registered:
                    poller.register(fd, select.POLLIN)
                    registered.add(fd)
            for fd, _ in poller.poll():
                if fd == self._wake_r:
                    os.read(self._wake_r, 64)
                    continue
                t_ns = time.monotonic_ns()
                with self._lock:
                    w = self._watched.pop(fd, None)
                poller.unregister(fd)
                registered.discard(fd)
                if w is not None:
                    self._report(w, t_ns)

    def _report(self, w: _Watched, t_ns: int) -> None:
        cpu = ready = -1
        if w.stat_fd >= 0:
            try:
                fields = os.pread(w.stat_fd, 96, 0).split()
                cpu, ready = int(fields[0]), int(fields[1])
            except (OSError, ValueError, IndexError):
                pass  # already reaped by its owner: the last tick's read stands
        code = _exit_code(w.pidfd) if w.tid == w.pid else None
        _close(w.pidfd)
        _close(w.stat_fd)
        with self._lock:
            self._exits.append(KernelExit(w.pid, w.tid, t_ns, code, cpu, ready))
