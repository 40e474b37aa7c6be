"""The guardian: a tiny process that sweeps a run's processes when procviz itself is killed.

Why: a worker dies with procviz (``PR_SET_PDEATHSIG`` and its lifeline, see
:mod:`procviz.engine.worker.lifeline`), but the death signal is cleared on ``fork``: a process
that a *task* started (``subprocess.Popen(["sleep", "60"])``, a ``multiprocessing.Process``) is
reparented to init when its worker dies and lives on. Nothing in procviz survives a
``kill -9`` to sweep it, so one process outside procviz's fate does it.

How: procviz starts one guardian per process (lazily, at its first run: ``python -S -I`` running
:mod:`procviz.engine.guardian_proc`, standard library only, ~15 ms of CPU by
``benchmarks/bench_faults.py``; its own session so Ctrl-C does not reach it; an empty environment
so it carries no run's tag). It holds the read end of a pipe from procviz and a pidfd of procviz,
and sleeps in ``poll``. Over the pipe procviz tells it, in lines:

* ``T <needle> <pid>...``: a run started; its processes carry ``needle`` (``PROCVIZ_RUN=<tag>\\0``)
  in ``/proc/<pid>/environ`` (everything a worker starts by exec inherits the tag); the PIDs are
  procviz's children from before the run (not the run's);
* ``P <needle> <pid> <start>``: a process of that run, with its start time (against PID reuse),
  as the engine's tree scan found it (this covers forked grandchildren and a thread task's
  children, which carry no tag);
* ``D <needle>``: the run ended and procviz swept it itself: forget it.

While a run is live the guardian also follows procviz's tree itself, every ``WALK_S`` (100 ms): a
listing of /proc and a stat of each new PID (:class:`~procviz.engine.guardian_proc.Tree`). The
tree scan tells it only once a second, and nothing while procviz is stalled; a process a task
starts with a scrubbed environment carries no tag. What escapes now is such a process started
less than one walk before procviz's death.

When procviz dies, however (EOF on the pipe, or its pidfd readable), the guardian SIGKILLs every
process of every run not yet done (tagged, or told or followed with a matching start time, and
whatever descends from those), repeats until a pass finds none, and exits. When procviz ends normally
every run is done: the guardian exits quietly. Nothing is killed that is not of a run.

The guardian is no subreaper: orphans reparent to the nearest subreaper *ancestor*, and it is no
ancestor of the workers. procviz is one (:mod:`procviz.engine.proctree`): while it lives, an
orphan of a dead worker is its child, seen by the tree scan and told to the guardian here.
"""

from __future__ import annotations

import os
import sys
import threading

from procviz.engine import guardian_proc

# The guardian runs this, with the engine's folder first on its path: it imports nothing of
# procviz, and its compiled module is cached like any other (a script would be compiled each time).
# The folder comes in the environment, not the command line: ``pkill -f procviz`` (the folder is
# .../procviz/engine once installed) must not take the guardian with procviz.
_PATH_VAR = "GUARDIAN_PATH"
_BOOT = ("import os, sys; sys.path.insert(0, os.environ['GUARDIAN_PATH']); import guardian_proc; "
         "sys.exit(guardian_proc.main(sys.argv))")


# ---- procviz's side -------------------------------------------------------------------------


class Guardian:
    """procviz's end: starts the guardian at the first run and tells it about runs (thread-safe).

    A guardian that died (killed by hand) is reaped and started again, told every run not done.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pid = 0
        self._fd = -1
        self._runs: dict[bytes, list[bytes]] = {}  # needle -> lines told (to tell a new guardian)

    def protect(self, needle: bytes) -> None:
        """A run whose processes carry ``needle`` started (before it has any process)."""
        # This process's children now are not the run's: the guardian's walk of the tree leaves
        # them out. Shared helpers stay in: a fork server's children are the run's workers.
        before = [b"%d" % pid for pid in guardian_proc.children_of(os.getpid())
                  if not guardian_proc.is_helper(pid)]
        with self._lock:
            self._runs[needle] = [b" ".join([b"T", needle.hex().encode(), *before]) + b"\n"]
            self._send(self._runs[needle][0])

    def start(self) -> None:
        """Start the guardian now if none runs (else it starts at the first :meth:`protect`): a
        caller that knows a run is coming starts it while a core is idle (see
        :mod:`procviz.engine.run_helpers`)."""
        with self._lock:
            if self._fd < 0:
                self._start()

    def members(self, needle: bytes, found: list[tuple[int, int]]) -> None:
        """Processes (pid, start time) of the run found since the last call (none: just check that
        the guardian still lives, and replace it if someone killed it)."""
        with self._lock:
            if self.pid and self._runs and _exited(self.pid):
                self._forget(reaped=True)
                self._send(b"".join(line for lines in self._runs.values() for line in lines))
            if not found:
                return
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
                sys.executable, guardian_argv(),
                # No environment but its folder: the guardian must carry no run's tag (nor a test's).
                guardian_env(),
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

    def _forget(self, reaped: bool = False) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1
        if self.pid and not reaped:
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


def guardian_argv() -> list[str]:
    """The guardian's command line (procviz's PID last; nothing naming procviz or its folder)."""
    return [sys.executable, "-S", "-I", "-c", _BOOT, str(os.getpid())]


def guardian_env() -> dict[str, str]:
    """The guardian's environment: its module's folder, and the library path the interpreter may need."""
    env = {k: v for k, v in os.environ.items() if k == "LD_LIBRARY_PATH"}
    env[_PATH_VAR] = os.path.dirname(os.path.abspath(guardian_proc.__file__))
    return env


def _exited(pid: int) -> bool:
    """Whether child ``pid`` has exited (and reap it if so)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True


guardian = Guardian()
os.register_at_fork(after_in_child=guardian._after_fork_in_child)
