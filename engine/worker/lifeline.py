"""A worker's lifeline: it dies with the engine's process, however that process died.

Two mechanisms, because each misses something:

* ``PR_SET_PDEATHSIG`` (Linux ``prctl``): the kernel sends SIGKILL when the *thread* that created
  this process exits. It works even while this process is stuck in C code holding the GIL. The
  engine creates every worker from one long-lived thread (:mod:`procviz.engine.spawner`), so the
  creator thread ends only with the engine's process. Under forkserver the creator is the fork
  server, which itself exits when the engine's process does.
* A watch thread blocked on a pidfd of the engine's process (``os.pidfd_open``; polling the PID
  where pidfds are missing). It covers what the signal does not: a creator that is not the engine
  (forkserver), a kernel without prctl, a process created before the signal was armed. When it
  fires it kills this process's own children first (e.g. a ``sleep`` a task started), then itself.

:func:`arm` also writes the run's tag into ``os.environ`` so every process started from here on
(``subprocess.Popen``, spawn children) carries it in ``/proc/<pid>/environ``: the engine's sweep
finds them by it, even after they were orphaned. Standard library only.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import select
import signal
import threading
import time

ENV_TAG = "PROCVIZ_RUN"
PR_SET_PDEATHSIG = 1
POLL_S = 0.25
_armed_for: int | None = None


def engine_pid() -> int:
    """The PID of the process that asked for this one (the engine's, also under forkserver)."""
    parent = multiprocessing.parent_process()
    return parent.pid if parent is not None and parent.pid else os.getppid()


def set_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel for ``sig`` when this process's creator thread exits; False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def arm(tag: str) -> None:
    """Tie this process's life to the engine's process (idempotent; see the module docstring)."""
    global _armed_for
    os.environ[ENV_TAG] = tag
    pid = engine_pid()
    if _armed_for == pid:
        return
    _armed_for = pid
    set_death_signal(signal.SIGKILL)
    if not _alive(pid):  # the engine died before the signal was armed: nobody will send it
        _die()
    threading.Thread(target=_watch, args=(pid,), name="procviz-lifeline", daemon=True).start()


def _forget_after_fork() -> None:
    # A forked child has no watch thread (threads are not copied) and no death signal.
    global _armed_for
    _armed_for = None


os.register_at_fork(after_in_child=_forget_after_fork)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(pid: int) -> None:
    """Block until ``pid`` exits, then die (a pidfd becomes readable when its process exits)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        while True:
            try:
                select.select([fd], [], [])
                break
            except InterruptedError:
                continue
    else:
        while _alive(pid) and os.getppid() != 1:
            time.sleep(POLL_S)
    _die()


def children_of(pid: int) -> list[int]:
    """PIDs whose parent is ``pid``, read from /proc (standard library only)."""
    out: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields start after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(name))
    return out


def descendants_of(pid: int) -> list[int]:
    """Every process below ``pid`` (children first found, then theirs)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        kids = [c for p in frontier for c in children_of(p)]
        found.extend(kids)
        frontier = kids
    return found


def _die() -> None:
    """Kill what this process started, then this process (SIGKILL: no handler can delay it)."""
    for child in descendants_of(os.getpid()):
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)
