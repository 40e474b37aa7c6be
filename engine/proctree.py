"""A run's process tree: every process the run created, found and swept when the run ends.

How the tree is known (no session or process group: a worker's own ``setsid()`` or a task's
``start_new_session=True`` would escape one, and Ctrl-C must keep reaching the terminal's group):

* the workers, by PID (their backend and their hellos name them);
* their descendants, seen in ``/proc`` every ``SCAN_S`` while the run goes on and again at the
  end (a grandchild whose worker died is still remembered, with its start time against PID reuse);
* every process whose ``/proc/<pid>/environ`` carries the run's tag: a worker writes the tag into
  its environment when it starts (:mod:`procviz.engine.worker.lifeline`), so everything it starts
  through ``subprocess`` or a spawn ``multiprocessing.Process`` carries it, orphaned or not;
* for threads of the engine's own process, its own children that appeared during the run
  (minus multiprocessing's resource tracker and fork server, which serve every run).

:meth:`RunTree.sweep` SIGKILLs whichever of them is still alive and names them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass

from procviz.engine.worker.lifeline import ENV_TAG

SCAN_S = 1.0


@dataclass(frozen=True, slots=True)
class Member:
    """One process of the run: PID, start time (clock ticks since boot, against PID reuse), name."""

    pid: int
    start: int
    name: str


def _stat(pid: int) -> tuple[int, int, str, str] | None:
    """(ppid, start time, state, name) of ``pid`` from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    close = raw.rfind(b")")
    name = raw[raw.find(b"(") + 1 : close].decode("utf-8", "replace")
    fields = raw[close + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0].decode(), name


def _pids() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return []


def _infrastructure() -> set[int]:
    """multiprocessing's shared helper processes (started once per process, not per run)."""
    pids = set()
    try:
        from multiprocessing import forkserver, resource_tracker

        for pid in (getattr(resource_tracker._resource_tracker, "_pid", None),  # noqa: SLF001
                    getattr(forkserver._forkserver, "_forkserver_pid", None)):  # noqa: SLF001
            if pid:
                pids.add(int(pid))
    except (ImportError, AttributeError):
        pass
    return pids


class RunTree:
    """What belongs to one run (see the module docstring). Engine thread only."""

    def __init__(self, tag: str) -> None:
        self.tag = f"{ENV_TAG}={tag}".encode() + b"\0"
        self.me = os.getpid()
        self.members: dict[int, Member] = {}
        self._children_before = set(self._children_of_me())

    def _children_of_me(self) -> list[int]:
        out = []
        for pid in _pids():
            st = _stat(pid)
            if st is not None and st[0] == self.me:
                out.append(pid)
        return out

    def remember(self, workers: Iterable[int]) -> None:
        """Note the workers and everything below them now (one pass over /proc)."""
        stats = {pid: st for pid in _pids() if (st := _stat(pid)) is not None}
        below: dict[int, list[int]] = {}
        for pid, st in stats.items():
            below.setdefault(st[0], []).append(pid)
        frontier = [p for p in workers if p in stats and p != self.me]
        while frontier:
            pid = frontier.pop()
            if pid in self.members and self.members[pid].start == stats[pid][1]:
                frontier.extend(below.get(pid, []))
                continue
            self.members[pid] = Member(pid, stats[pid][1], stats[pid][3])
            frontier.extend(below.get(pid, []))

    def tagged(self) -> list[int]:
        """PIDs whose environment carries the run's tag (only the user's own are readable)."""
        found = []
        for pid in _pids():
            if pid == self.me:
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = b"\0" + f.read()
            except OSError:
                continue
            if b"\0" + self.tag in env or env.endswith(b"\0" + self.tag[:-1]):
                found.append(pid)
        return found

    def new_children(self) -> list[int]:
        """Children of this process born during the run, but multiprocessing's shared helpers."""
        skip = self._children_before | _infrastructure()
        return [pid for pid in self._children_of_me() if pid not in skip]

    def sweep(self, workers: Iterable[int], own_children: bool) -> list[Member]:
        """SIGKILL every live process of the run; the ones killed.

        ``own_children``: also this process's new children (threads of this process ran tasks).
        """
        roots = list(workers) + self.tagged() + (self.new_children() if own_children else [])
        self.remember(roots)
        killed = []
        for m in list(self.members.values()):
            st = _stat(m.pid)
            if st is None or st[1] != m.start or st[2] in ("Z", "X"):
                continue  # gone, reaped and reused, or a zombie its parent will reap
            try:
                os.kill(m.pid, signal.SIGKILL)
                killed.append(m)
            except OSError:
                pass
        return killed
