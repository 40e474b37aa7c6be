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
# While a run is live: how often procviz's tree is followed (a listing of /proc, and a stat of each
# PID new since the last look). What a run starts without the tag and less than this before
# procviz is killed may escape.
WALK_S = 0.1
# ... but at most this share of a core: listing /proc costs ~1 us per process there is (cold, on a
# loaded machine), so where thousands of processes run the walk comes less often instead.
WALK_CPU = 0.005


# ---- /proc, shared with the engine's tree scan (procviz.engine.proctree) ----------------------

_READ = 1 << 16


def read_file(path: str) -> bytes:
    """A /proc file's bytes in three system calls (open, read, close) where ``open().read()``
    makes six (a stat, a terminal check, a second read for the end). In the engine's process each
    system call hands the GIL over, and where a pool's threads keep it busy each can cost the
    engine thread milliseconds to get it back (the engine read /proc ~70 times a pass). A /proc
    file is made whole at each read (seq_file): a read shorter than asked is all of it. Raises
    OSError as open() does."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _READ)
        if len(data) < _READ:
            return data
        parts = [data]
        while chunk := os.read(fd, _READ):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def _listing() -> list[str]:
    try:
        return os.listdir("/proc")
    except OSError:
        return []


def _pids_in(names: list[str] | set[str]) -> list[int]:
    return [int(n) for n in names if n.isdigit()]


def pids() -> list[int]:
    """Every PID in /proc."""
    return _pids_in(_listing())


def stat_of(pid: int) -> tuple[int, int, str, str] | None:
    """(ppid, start time in clock ticks, state, name) of ``pid``, or None if it is gone."""
    try:
        raw = read_file(f"/proc/{pid}/stat")
    except OSError:
        return None
    close = raw.rfind(b")")  # the name may hold spaces and parentheses
    name = raw[raw.find(b"(") + 1 : close].decode("utf-8", "replace")
    fields = raw[close + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0].decode(), name


def children_of(parent: int) -> list[int]:
    """PIDs whose parent is ``parent``: the kernel's list of each of its threads' children where it
    keeps one (``/proc/<pid>/task/<tid>/children``: a read per thread of ``parent``), else one pass
    over /proc (a stat per process there is: ~3 ms on a machine of 250, before each run's workers)."""
    try:
        found: list[int] = []
        for tid in os.listdir(f"/proc/{parent}/task"):
            found.extend(int(pid) for pid in read_file(f"/proc/{parent}/task/{tid}/children").split())
        return found
    except (OSError, ValueError):  # no such file (a kernel without it), a thread that just ended, no parent
        pass
    return [pid for pid in pids() if (st := stat_of(pid)) is not None and st[0] == parent]


def carries(pid: int, needles: list[bytes]) -> bool:
    """Whether ``pid``'s environment holds one of ``needles`` (``NAME=value\\0``)."""
    try:
        env = b"\0" + read_file(f"/proc/{pid}/environ")
    except OSError:
        return False
    return any(b"\0" + n in env or env.endswith(b"\0" + n[:-1]) for n in needles)


FORK_SERVER_MARK = b"from multiprocessing.forkserver import"
HELPER_MARKS = (b"from multiprocessing.resource_tracker import", FORK_SERVER_MARK, b"import guardian_proc")


def helper_mark(pid: int) -> bytes | None:
    """The mark of HELPER_MARKS that ``pid``'s command line bears, if any."""
    try:
        cmdline = read_file(f"/proc/{pid}/cmdline")
    except OSError:
        return None
    return next((mark for mark in HELPER_MARKS if mark in cmdline), None)


def is_helper(pid: int) -> bool:
    """Whether ``pid`` is a shared helper by its command line (multiprocessing's resource tracker or
    fork server, a guardian): procviz's own are no run's, and one just started may not be known to
    multiprocessing yet (it notes the PID only once the start returns). (A fork server's workers,
    and what they fork, bear its command line too: see procviz.engine.proctree.)"""
    return helper_mark(pid) is not None


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


class Tree:
    """procviz's descendants while a run is live, followed by the guardian itself: procviz's tree scan
    tells it only once a second (and not at all while procviz is stalled), and a task may start a
    process without the run's tag (``env -i``, a scrubbed environment).

    A run's start takes procviz's descendants (but ``before``: its children from before the run, not
    the run's, and their subtrees) in one pass over /proc. Then each :meth:`step` lists /proc and
    reads only the PIDs new since the last one: a new PID whose parent is procviz or a member is a
    member (procviz is a child subreaper, so a process whose parent died is procviz's child, still
    in the tree). PIDs gone leave the members, so memory stays with what is alive.
    """

    def __init__(self, root: int, me: int) -> None:
        self.root, self.me = root, me
        self.members: dict[int, int] = {}  # pid -> start time
        self._seen: set[str] = set()  # names in /proc at the last look (PIDs and the rest)
        self._listed: list[str] = []  # the same, as listed
        self.live = False

    def begin(self, before: set[int]) -> None:
        """A run started (``before``: procviz's children that are not the run's)."""
        # One listing for both: a process born between two listings would be neither taken now
        # nor new at the next step (the workers are being created right now).
        names = _listing()
        stats = {pid: st for pid in _pids_in(names) if (st := stat_of(pid)) is not None}
        below: dict[int, list[int]] = {}
        for pid, st in stats.items():
            below.setdefault(st[0], []).append(pid)
        frontier = [p for p in below.get(self.root, []) if p not in before and p != self.me]
        while frontier:
            pid = frontier.pop()
            self.members[pid] = stats[pid][1]
            frontier.extend(below.get(pid, []))
        self._seen, self._listed = set(names), names
        self.live = True

    def end(self) -> None:
        """No run is live any more: forget the tree."""
        self.members.clear()
        self._seen, self._listed = set(), []
        self.live = False

    def step(self) -> None:
        """Take the processes new since the last step that descend from procviz."""
        # The names as listed, not ints: converting ~100-1000 names each time would cost more
        # than the listing (the walk runs 10 times a second while a run is live).
        listed = _listing()
        if listed == self._listed:
            return  # nobody was born or died (the usual case): no set to build
        self._listed = listed
        now = set(listed)
        new = _pids_in(now - self._seen)
        for gone in self._seen - now:
            if gone.isdigit():
                self.members.pop(int(gone), None)
        self._seen = now
        parents = {pid: st for pid in new if (st := stat_of(pid)) is not None}
        grew = True
        while grew:  # a new process's parent may be new too
            grew = False
            for pid, st in list(parents.items()):
                if st[0] in self.members or st[0] == self.root:
                    self.members[pid] = st[1]
                    del parents[pid]
                    grew = True


class _Runs:
    """What procviz told: the runs not yet done, their processes; and the tree followed meanwhile."""

    def __init__(self, tree: Tree) -> None:
        self.runs: dict[bytes, set[tuple[int, int]]] = {}
        self.tree = tree
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
                    self.tree.begin({int(p) for p in parts[2:]})
                elif parts[0] == b"P" and needle in self.runs:
                    self.runs[needle].add((int(parts[2]), int(parts[3])))
                elif parts[0] == b"D":
                    self.runs.pop(needle, None)
                    if not self.runs:
                        self.tree.end()
            except (IndexError, ValueError):
                continue  # not a line procviz writes: ignore it

    def members(self) -> set[tuple[int, int]]:
        """Every process known to be of a run not done: told, or followed in the tree."""
        return set().union(set(self.tree.members.items()), *self.runs.values())


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
    runs = _Runs(Tree(parent, os.getpid()))
    try:
        pidfd = os.pidfd_open(parent)
    except (AttributeError, OSError):
        pidfd = -1
    poller = select.poll()
    poller.register(0, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    next_walk = 0.0
    while os.getppid() == parent:
        wait = None if pidfd >= 0 else POLL_MS
        if runs.tree.live:
            wait = min(wait or POLL_MS, max(0, int((next_walk - time.monotonic()) * 1000) + 1))
        ready = poller.poll(wait)
        if any(fd == pidfd for fd, _ in ready):
            break  # procviz is gone
        if ready:
            data = os.read(0, 65536)
            if not data:
                break  # EOF: procviz closed the pipe or died
            runs.feed(data)
        if runs.tree.live and time.monotonic() >= next_walk:
            spent = time.process_time()
            runs.tree.step()
            spent = time.process_time() - spent
            next_walk = time.monotonic() + max(WALK_S, spent / WALK_CPU)
    _drain(0, runs)
    if runs.runs:
        runs.tree.step()  # what a dying worker started since the last step (still its child)
        sweep(list(runs.runs), runs.members())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
