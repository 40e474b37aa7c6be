"""Ending processes: SIGTERM with escalation to SIGKILL, and the final sweep of the run's tree.

The engine asks for a worker's end with :meth:`Reaper.terminate` (a timed-out task's worker);
:meth:`Reaper.escalate`, called every loop pass, SIGKILLs whatever ignored SIGTERM for
``KILL_GRACE_S``. :meth:`Reaper.sweep` is the last word of a run: every process of its
:class:`~procviz.engine.proctree.RunTree` still alive is SIGKILLed and named.

Should procviz itself be killed before that last word, the guardian
(:mod:`procviz.engine.guardian`) says it: the runner tells it the run's tag before any worker exists,
the reaper every process of the tree as the scans find it, and that the run is done after the sweep.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from procviz.engine.guardian import guardian
from procviz.engine.proctree import SCAN_S, Member, RunTree

KILL_GRACE_S = 1.0


class Reaper:
    """Kill escalation and the sweep for one run. Engine thread only."""

    def __init__(self, tree: RunTree, worker_pids: Callable[[], set[int]],
                 found: Callable[[list[tuple[int, int]]], None] | None = None) -> None:
        self.tree = tree
        self._worker_pids = worker_pids
        self._found = found  # told the run's processes each scan finds
        self._terminating: dict[int, float] = {}  # pid -> when SIGTERM was sent
        self._next_scan = 0.0
        self.swept: list[Member] = []  # the guardian was told of the run where its tree was made

    def terminate(self, pid: int) -> None:
        """SIGTERM ``pid`` now (it flushes its events), SIGKILL later if it is still there."""
        if _signal(pid, signal.SIGTERM):
            self._terminating.setdefault(pid, time.monotonic())

    def exited(self, pid: int) -> None:
        """``pid`` is gone: nothing to escalate."""
        self._terminating.pop(pid, None)

    def escalate(self, scan: bool = True) -> None:
        """SIGKILL what ignored SIGTERM too long; now and then (``scan``), note the run's tree."""
        now = time.monotonic()
        for pid, since in list(self._terminating.items()):
            if now - since > KILL_GRACE_S:
                _signal(pid, signal.SIGKILL)
                del self._terminating[pid]
        if scan and now >= self._next_scan:
            self._next_scan = now + SCAN_S
            self.snapshot()

    def snapshot(self) -> None:
        """Note the tree now (before the workers end: then their children are orphaned), and tell
        the guardian what is new in it."""
        # Down the run's own processes, not a stat of every process there is (~10 ms at 300): the
        # sweep at the end still makes its pass over all of /proc.
        new = [(m.pid, m.start) for m in self.tree.remember(self._worker_pids(), every=False)]
        guardian.members(self.tree.tag, new)  # also: is it still there
        if self._found is not None and new:
            self._found(new)

    def sweep(self) -> list[Member]:
        """SIGKILL every process of the run still alive; all those killed so far this run."""
        # A process SIGKILLed by an earlier sweep may not be dead yet when the next one looks:
        # it is killed again but counted once.
        seen = {(m.pid, m.start) for m in self.swept}
        for m in self.tree.sweep(self._worker_pids()):
            if (m.pid, m.start) not in seen:
                seen.add((m.pid, m.start))
                self.swept.append(m)
        guardian.done(self.tree.tag)  # nothing of the run is left for it to sweep
        return self.swept

    def swept_text(self, workers: set[int]) -> str:
        """What the sweep killed, for the run's status ("" when nothing was left)."""
        others = [m for m in self.swept if m.pid not in workers]
        if not others:
            return ""
        names = ", ".join(f"pid {m.pid} ({m.name})" for m in others[:10])
        more = f" and {len(others) - 10} more" if len(others) > 10 else ""
        return f"; swept {len(others)} leftover process{'es' if len(others) > 1 else ''} of the run: {names}{more}"


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
