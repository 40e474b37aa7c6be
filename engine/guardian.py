"""The guardian: a tiny process that sweeps a run's processes when procviz itself is killed.

Why: a worker dies with procviz (``PR_SET_PDEATHSIG`` and its lifeline, see
:mod:`procviz.engine.worker.lifeline`), but the death signal is cleared on ``fork``: a process
that a *task* started (``subprocess.Popen(["sleep", "60"])``, a ``multiprocessing.Process``) is
reparented to init when its worker dies and lives on. Nothing in procviz survives a
``kill -9`` to sweep it, so one process outside procviz's fate does it.

How: procviz starts one guardian per process (lazily, at its first run; ``python -S -I`` on this
file, standard library only, its own session so Ctrl-C does not reach it, an empty environment so
it carries no run's tag). It holds the read end of a pipe from procviz and a pidfd of procviz,
and sleeps in ``poll``. Over the pipe procviz tells it, in lines:

* ``T <needle>``: a run started; its processes carry ``needle`` (``PROCVIZ_RUN=<tag>\\0``) in
  ``/proc/<pid>/environ`` (everything a worker starts by exec inherits the tag);
* ``P <needle> <pid> <start>``: a process of that run, with its start time (against PID reuse),
  as the engine's tree scan found it (this covers forked grandchildren and a thread task's
  children, which carry no tag);
* ``D <needle>``: the run ended and procviz swept it itself: forget it.

When procviz dies, however (EOF on the pipe, or its pidfd readable), the guardian SIGKILLs every
process of every run not yet done (tagged, or told with a matching start time, and whatever
descends from those), repeats until a pass finds none, and exits. When procviz ends normally
every run is done: the guardian exits quietly. Nothing is killed that is not of a run.

The guardian is no subreaper: orphans reparent to the nearest subreaper *ancestor*, and it is no
ancestor of the workers. procviz is one (:mod:`procviz.engine.proctree`): while it lives, an
orphan of a dead worker is its child, seen by the tree scan and told to the guardian here.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

SWEEP_PASSES = 20  # at most; a pass that finds nothing alive ends the sweep
PASS_GAP_S = 0.1
POLL_MS = 500  # where pidfds are missing: how often the parent's PID is checked


# ---- /proc, shared with the engine's tree scan (procviz.engine.proctree) ----------------------


def pids() -> list[int]:
    """Every PID in /proc."""
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def stat_of(pid: int) -> tuple[int, int, str, str] | None:
    """(ppid, start time in clock ticks, state, name) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    close = raw.rfind(b")")  # the name may hold spaces and parentheses
    name = raw[raw.find(b"(") + 1 : close].decode("utf-8", "replace")
    fields = raw[close + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0].decode(), name


def carries(pid: int, needles: list[bytes]) -> bool:
    """Whether ``pid``'s environment holds one of ``needles`` (``NAME=value\\0``)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = b"\0" + f.read()
    except OSError:
        return False
    return any(b"\0" + n in env or env.endswith(b"\0" + n[:-1]) for n in needles)


# ---- the guardian process ----------------------------------------------------------------------


def _targets(needles: list[bytes], members: set[tuple[int, int]], me: int) -> list[int]:
    """Live processes of the runs: tagged or told (start time matching), and their descendants."""
    stats = {pid: st for pid in pids() if pid != me and (st := stat_of(pid)) is not None}
    found = {pid for pid, st in stats.items()
             if (pid, st[1]) in members or carries(pid, needles)}
    below: dict[int, list[int]] = {}
    for pid, st in stats.items():
        below.setdefault(st[0], []).append(pid)
    frontier = list(found)
    while frontier:
        for child in below.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return [pid for pid in found if stats[pid][2] not in ("Z", "X")]


def sweep(needles: list[bytes], members: set[tuple[int, int]]) -> int:
    """SIGKILL every process of the runs until none is left; how many were killed."""
    killed = 0
    me = os.getpid()
    for _ in range(SWEEP_PASSES):
        targets = _targets(needles, members, me)
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(PASS_GAP_S)  # let them die (and catch what they forked meanwhile)
    return killed


class _Runs:
    """What procviz told: the runs not yet done, their processes."""

    def __init__(self) -> None:
        self.runs: dict[bytes, set[tuple[int, int]]] = {}
        self._partial = b""

    def feed(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            parts = line.split()
            try:
                needle = bytes.fromhex(parts[1].decode())
                if parts[0] == b"T":
                    self.runs.setdefault(needle, set())
                elif parts[0] == b"P" and needle in self.runs:
                    self.runs[needle].add((int(parts[2]), int(parts[3])))
                elif parts[0] == b"D":
                    self.runs.pop(needle, None)
            except (IndexError, ValueError):
                continue  # not a line procviz writes: ignore it


def _drain(fd: int, runs: _Runs) -> None:
    """Read what is left in the pipe without blocking (a forked descendant may hold it open)."""
    os.set_blocking(fd, False)
    while True:
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        runs.feed(data)


def main(argv: list[str]) -> int:
    """Guard procviz ``argv[1]`` (a PID): wait for its end, sweep its runs not yet done, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = int(argv[1])
    runs = _Runs()
    try:
        pidfd = os.pidfd_open(parent)
    except (AttributeError, OSError):
        pidfd = -1
    poller = select.poll()
    poller.register(0, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    while os.getppid() == parent:
        ready = poller.poll(None if pidfd >= 0 else POLL_MS)
        if any(fd == pidfd for fd, _ in ready):
            break  # procviz is gone
        if ready:
            data = os.read(0, 65536)
            if not data:
                break  # EOF: procviz closed the pipe or died
            runs.feed(data)
    _drain(0, runs)
    if runs.runs:
        sweep(list(runs.runs), set().union(*runs.runs.values()))
    return 0


# ---- procviz's side -------------------------------------------------------------------------


class Guardian:
    """procviz's end: starts the guardian at the first run and tells it about runs (thread-safe).

    A guardian that died (killed by hand) is reaped and started again, told every run not done.
    """

    def __init__(self) -> None:
        import threading  # here, not at the top: the guardian process never needs it

        self._lock = threading.Lock()
        self.pid = 0
        self._fd = -1
        self._runs: dict[bytes, list[bytes]] = {}  # needle -> lines told (to tell a new guardian)

    def protect(self, needle: bytes) -> None:
        """A run whose processes carry ``needle`` started."""
        with self._lock:
            self._runs[needle] = [b"T " + needle.hex().encode() + b"\n"]
            self._send(self._runs[needle][0])

    def members(self, needle: bytes, found: list[tuple[int, int]]) -> None:
        """Processes (pid, start time) of the run found since the last call."""
        if not found:
            return
        with self._lock:
            if needle not in self._runs:
                return
            head = b"P " + needle.hex().encode()
            lines = [b"%s %d %d\n" % (head, pid, start) for pid, start in found]
            self._runs[needle].extend(lines)
            self._send(b"".join(lines))

    def done(self, needle: bytes) -> None:
        """The run ended and procviz swept it: the guardian forgets it."""
        with self._lock:
            if self._runs.pop(needle, None) is not None:
                self._send(b"D " + needle.hex().encode() + b"\n")

    def _send(self, data: bytes) -> None:
        for _ in range(2):  # a dead guardian is replaced once, then given up on
            if self._fd < 0 and not self._start():
                return
            try:
                os.write(self._fd, data)
                return
            except OSError:  # it died: reap it, start another, tell it everything not done
                self._forget()
                data = b"".join(line for lines in self._runs.values() for line in lines)

    def _start(self) -> bool:
        if not sys.executable:
            return False
        r, w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            self.pid = os.posix_spawn(
                sys.executable, [sys.executable, "-S", "-I", os.path.abspath(__file__), str(os.getpid())],
                # No environment: the guardian must carry no run's tag (nor a test's).
                {k: v for k, v in os.environ.items() if k == "LD_LIBRARY_PATH"},
                file_actions=[(os.POSIX_SPAWN_DUP2, r, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                              (os.POSIX_SPAWN_DUP2, devnull, 2)],
                setsid=True,  # Ctrl-C in the terminal reaches procviz's group, not the guardian
            )
        except OSError:
            os.close(w)
            return False
        finally:
            os.close(r)
            os.close(devnull)
        self._fd = w
        return True

    def _forget(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        if self.pid:
            try:
                os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.pid = 0

    def _after_fork_in_child(self) -> None:
        # A forked worker must not hold the pipe: procviz's death would not read as EOF.
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self.pid, self._runs = -1, 0, {}


guardian = Guardian() if __name__ != "__main__" else None
if guardian is not None:
    os.register_at_fork(after_in_child=guardian._after_fork_in_child)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
