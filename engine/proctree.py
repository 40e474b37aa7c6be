"""A run's process tree: every process the run created, found and swept when the run ends.

How the tree is known (no session or process group: a worker's own ``setsid()`` or a task's
``start_new_session=True`` would escape one, and Ctrl-C must keep reaching the terminal's group):

* the workers, by PID (their backend and their hellos name them);
* their descendants, seen in ``/proc`` every ``SCAN_S`` while the run goes on and again at the
  end (a grandchild whose worker died is still remembered, with its start time against PID reuse);
* every process whose ``/proc/<pid>/environ`` carries the run's tag: a worker writes the tag into
  its environment when it starts (:mod:`procviz.engine.worker.lifeline`), so everything it starts
  through ``subprocess`` or a spawn ``multiprocessing.Process`` carries it, orphaned or not;
* the engine's own children that appeared during the run (minus the helpers that serve every
  run: multiprocessing's resource tracker and fork server, procviz's guardian): what threads of
  this process started, and orphans. The engine's process is a *child subreaper*
  (``PR_SET_CHILD_SUBREAPER``): a process whose worker died (a task's double-forked daemon, the
  children of a worker killed mid-run) is reparented to it, not to init, so it stays in view and
  in the tree even when it carries no tag; the sweep reaps the ones it adopted. (This assumes
  one run at a time per process, as the window and the CLI do: two engines running at once in
  one process would each count the other's new children as their own.)

:meth:`RunTree.sweep` SIGKILLs whichever of them is still alive and names them. What the sweep
cannot do because procviz itself was killed, the guardian does (:mod:`procviz.engine.guardian`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass

from procviz.engine.guardian import guardian
from procviz.engine.guardian_proc import FORK_SERVER_MARK, carries, children_of, helper_mark, pids, read_file, stat_of
from procviz.engine.worker.lifeline import ENV_TAG

SCAN_S = 1.0
PR_SET_CHILD_SUBREAPER = 36
REAP_S = 0.3  # how long the sweep waits to reap the orphans it killed
_subreaper = False
# Processes of ended runs not yet reaped (pid -> member): tried again at every sweep.
_unreaped: dict[int, Member] = {}


def become_subreaper() -> bool:
    """Make this process the one orphans of its descendants reparent to (once; False if unsupported)."""
    global _subreaper
    if not _subreaper:
        try:
            _subreaper = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            pass
    return _subreaper


@dataclass(frozen=True, slots=True)
class Member:
    """One process of the run: PID, start time (clock ticks since boot, against PID reuse), name."""

    pid: int
    start: int
    name: str


def helper_pids() -> set[int]:
    """Shared helper processes (started once per process, not per run): multiprocessing's
    resource tracker and fork server, procviz's guardian."""
    found = {guardian.pid} if guardian.pid else set()
    try:
        from multiprocessing import resource_tracker

        tracker = getattr(resource_tracker._resource_tracker, "_pid", None)  # noqa: SLF001
        if tracker:
            found.add(int(tracker))
    except (ImportError, AttributeError):
        pass
    server = fork_server_pid()
    if server:
        found.add(server)
    return found


def spared_as_helper(pid: int, helpers: set[int]) -> bool:
    """Whether ``pid`` is left out of a run as a shared helper: by its PID once known (``helpers``:
    :func:`helper_pids`, taken once by the caller), else by its
    command line (one just started: multiprocessing notes the PID once the start returns), except
    the fork server's command line while the fork server is known under another PID. Such a
    process is a fork of it: a fork server's worker, or a process a task forked there (os.fork()
    keeps the command line), reparented to this process when its parent ended. Those are the
    run's: spared by the command line alone, they outlived it, and held the fork server and the
    resource tracker alive past procviz's exit. (The resource tracker and the guardian fork
    nothing: their command line alone tells them.)"""
    if pid in helpers:
        return True
    mark = helper_mark(pid)
    if mark is None:
        return False
    return not (mark == FORK_SERVER_MARK and fork_server_pid())


def fork_server_pid() -> int:
    """The fork server's pid (the parent, and so the reaper, of every forkserver worker), 0 if
    none runs."""
    try:
        from multiprocessing import forkserver
    except ImportError:
        return 0
    return int(getattr(forkserver._forkserver, "_forkserver_pid", None) or 0)  # noqa: SLF001


def _walk(me: int, workers: Iterable[int],
          tagged: Iterable[int]) -> tuple[dict[int, tuple[int, int, str, str]], dict[int, list[int]]]:
    """What :meth:`RunTree.remember` needs of /proc, read down the kernel's children lists from
    ``me``, the workers and the tagged processes: their stats, and who is below whom."""
    stats: dict[int, tuple[int, int, str, str]] = {}
    below: dict[int, list[int]] = {}
    frontier, seen = [me, *workers, *tagged], set[int]()
    while frontier:
        pid = frontier.pop()
        if pid in seen:
            continue
        seen.add(pid)
        st = stat_of(pid)
        if st is None:
            continue
        stats[pid] = st
        below[pid] = children = _children_listed(pid)
        frontier.extend(children)
    return stats, below


def _children_listed(pid: int) -> list[int]:
    """``pid``'s children by the kernel's lists (none when it is gone or ends meanwhile)."""
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            found.extend(int(child) for child in read_file(f"/proc/{pid}/task/{tid}/children").split())
    except (OSError, ValueError):
        pass  # the process or one of its threads ended: what was read so far
    return found


# Whether this kernel keeps children lists (CONFIG_PROC_CHILDREN): else a walk is a pass over /proc.
CHILDREN_LISTED = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


class RunTree:
    """What belongs to one run (see the module docstring). Engine thread only."""

    def __init__(self, tag: str) -> None:
        self.tag = f"{ENV_TAG}={tag}".encode() + b"\0"
        self.me = os.getpid()
        self.members: dict[int, Member] = {}
        become_subreaper()
        self._children_before = set(children_of(self.me))

    def remember(self, workers: Iterable[int], tagged: Iterable[int] = (), every: bool = True) -> list[Member]:
        """Note the workers, the ``tagged`` processes, this process's children born during the run,
        and everything below them now (``every``: one pass over /proc; else down the kernel's
        children lists from them, a read per thread of each process of the run instead of a stat
        of every process there is); the ones not known before.

        A worker PID counts only while its parent is this process or a shared helper (the fork
        server): backends keep the PIDs of workers that exited, and once such a PID is reused by
        an unrelated process (the user's shell, an editor), adopting it would kill that process
        and everything below it. Tagged processes carry the run's tag, whoever their parent is.
        """
        if every:
            stats, below = self._every()
        else:
            stats, below = _walk(self.me, workers, tagged) if CHILDREN_LISTED else self._every()
        infrastructure = helper_pids()
        parents = {self.me} | infrastructure
        frontier = [p for p in workers if p in stats and p != self.me and stats[p][0] in parents]
        frontier.extend(p for p in tagged if p in stats and p != self.me)
        skip = self._children_before | infrastructure
        frontier.extend(p for p in below.get(self.me, [])
                        if p not in skip and (p in self.members or not spared_as_helper(p, infrastructure)))
        new = []
        while frontier:
            pid = frontier.pop()
            frontier.extend(below.get(pid, []))
            if pid in self.members and self.members[pid].start == stats[pid][1]:
                continue
            self.members[pid] = member = Member(pid, stats[pid][1], stats[pid][3])
            new.append(member)
        return new

    @staticmethod
    def _every() -> tuple[dict[int, tuple[int, int, str, str]], dict[int, list[int]]]:
        """The stat of every process, and who is below whom (one pass over /proc)."""
        stats = {pid: st for pid in pids() if (st := stat_of(pid)) is not None}
        below: dict[int, list[int]] = {}
        for pid, st in stats.items():
            below.setdefault(st[0], []).append(pid)
        return stats, below

    def tagged(self) -> list[int]:
        """PIDs whose environment carries the run's tag (only the user's own are readable)."""
        return [pid for pid in pids() if pid != self.me and carries(pid, [self.tag])]

    def sweep(self, workers: Iterable[int]) -> list[Member]:
        """SIGKILL every live process of the run; the ones killed. Then reap what this process
        adopted or started itself (never a worker: its backend reaps it)."""
        workers = set(workers)
        self.remember(workers, self.tagged())
        helpers = helper_pids()
        killed = []
        for m in list(self.members.values()):
            st = stat_of(m.pid)
            if st is None or st[1] != m.start or st[2] in ("Z", "X"):
                continue  # gone, reaped and reused, or a zombie
            if st[0] == self.me and spared_as_helper(m.pid, helpers):
                # a shared helper the scan caught between its fork and its exec (its command line
                # was still ours then): not the run's
                del self.members[m.pid]
                continue
            try:
                os.kill(m.pid, signal.SIGKILL)
                # named as it is now: a scan may have caught it between its fork and its exec,
                # when it still bore its parent's name ("python" for a task's `sleep`)
                killed.append(Member(m.pid, m.start, st[3]))
            except OSError:
                pass
        self._reap(workers)
        return killed

    def _reap(self, workers: set[int]) -> None:
        """Reap the run's processes that are this process's children but not workers (orphans it
        adopted as subreaper, a thread task's children): nothing else ever would.

        Who is a child is asked again on every pass: a grandchild killed with its worker becomes
        this process's child only once that worker is gone. What is still not reaped at the end
        is kept and reaped by a later sweep (a zombie per run would pile up in a long-lived window).
        """
        candidates = [m for m in self.members.values() if m.pid not in workers] + list(_unreaped.values())
        deadline = time.monotonic() + REAP_S
        while True:
            left = []
            for m in candidates:
                st = stat_of(m.pid)
                if st is None or st[1] != m.start:
                    _unreaped.pop(m.pid, None)
                    continue  # gone (reaped by someone else), or the PID is another process's now
                if st[0] != self.me:
                    left.append(m)  # not (yet) ours: its parent may still be dying
                    continue
                try:
                    pid, _ = os.waitpid(m.pid, os.WNOHANG)
                except ChildProcessError:
                    pid = m.pid  # someone else reaped it
                if pid == 0:
                    left.append(m)
                else:
                    _unreaped.pop(m.pid, None)
            candidates = left
            if not candidates or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        for m in candidates:
            _unreaped[m.pid] = m
