"""The guardian process itself (see :mod:`procviz.engine.guardian`): wait for procviz's end, then
sweep its runs not yet done. Standard library only and small: the guardian's interpreter
(``python -S -I``) imports this module and nothing else of procviz, so its start costs about what a
bare interpreter's does.
"""

from __future__ import annotations

import os
import select
import sys
import time

# Not ``signal.SIGKILL``: importing signal imports enum, half the guardian's start-up cost. The
# guardian needs no handler either: it runs in its own session, out of reach of the terminal's
# Ctrl-C, and it ignores the pipe's writer being gone.
SIGKILL = 9

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


HELPER_MARKS = (b"from multiprocessing.resource_tracker import", b"from multiprocessing.forkserver import",
                b"import guardian_proc")


def is_helper(pid: int) -> bool:
    """Whether ``pid`` is a shared helper by its command line (multiprocessing's resource tracker or
    fork server, a guardian): procviz's own are no run's, and one just started may not be known to
    multiprocessing yet (it notes the PID only once the start returns)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return any(mark in cmdline for mark in HELPER_MARKS)


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
    # Helpers are spared: a scan may have told one as a member (caught between its fork and its
    # exec), and each ends by itself once its users are gone (the resource tracker then cleans up
    # the semaphores and shared memory left behind, which SIGKILL would prevent).
    return [pid for pid in found if stats[pid][2] not in ("Z", "X") and not is_helper(pid)]


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
                os.kill(pid, SIGKILL)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv))
