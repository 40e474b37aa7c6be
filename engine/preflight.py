"""Check a ``module:function`` by importing it in a short-lived child process, never here.

User code runs only in child processes: the window must not import a module that calls
``os._exit`` or hangs at import, and the CLI must name a module that fails rather than die with
it. :func:`check` starts ``python -c`` in the current directory (so ``module:function`` resolves
as it will in the workers), in its own session so that whatever the import starts can be killed
with it, and waits at most ``timeout_s``. The child prints one JSON line saying what happened.
``procviz run`` begins the check (:class:`ImportCheck`) before it imports numpy and the engine,
which it does meanwhile, and waits for the verdict only then (:mod:`procviz.engine.head_start`).

The check is guarded like a run: the child carries a tag of its own (``PROCVIZ_RUN``) and the
guardian (:mod:`procviz.engine.guardian`) is told of it first, so a procviz killed during the
check (a module that hangs at import, or starts processes) leaves nothing of it behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from procviz.engine.guardian import guardian
from procviz.engine.worker.lifeline import ENV_TAG

PREFLIGHT_S = 10.0
POLL_S = 0.05

# Runs in the child: resolve like the workers do, report one JSON line, exit 0 either way.
_CHILD = r"""
import json, os, sys, traceback
ref = sys.argv[1]
out = os.fdopen(os.dup(1), "w")  # the verdict's own channel: what the module prints goes nowhere
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
def say(**kw):
    out.write("\nPROCVIZ-PREFLIGHT " + json.dumps(kw) + "\n"); out.flush()
try:
    from procviz.engine.worker.workloads import resolve
    resolve(ref)
except SystemExit as exc:
    say(ok=False, kind="SystemExit", message=f"sys.exit({exc.code!r}) at import")
except BaseException as exc:
    say(ok=False, kind=type(exc).__qualname__, message=f"{type(exc).__qualname__}: {exc}",
        traceback="".join(traceback.format_exception(exc))[-3000:])
else:
    say(ok=True)
"""


@dataclass(frozen=True, slots=True)
class PreflightProblem:
    """Why ``function`` cannot be used: one line for the user, and the child's traceback if any."""

    function: str
    kind: str  # "ImportError", "SystemExit", "Exit", "Hang", ...
    message: str
    detail: str = ""

    def __str__(self) -> str:
        return f"cannot import {self.function}: {self.message}"


class ImportCheck:
    """One check begun: the child importing ``function``; :meth:`wait` gives its verdict (once)."""

    def __init__(self, function: str, cwd: str | None = None) -> None:
        self.function = function
        self._tag = f"preflight-{os.getpid()}-{time.monotonic_ns()}"
        self._needle = f"{ENV_TAG}={self._tag}".encode() + b"\0"
        guardian.protect(self._needle)
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", _CHILD, function], cwd=cwd or os.getcwd(),
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, start_new_session=True,
                                          env={**os.environ, ENV_TAG: self._tag})
        except BaseException:
            guardian.done(self._needle)
            raise
        self._begun = time.monotonic()
        self._ended = False

    def wait(self, timeout_s: float = PREFLIGHT_S, stop: threading.Event | None = None) -> PreflightProblem | None:
        """None if the function imports and is callable; otherwise the problem. ``timeout_s`` counts
        from the check's beginning; ``stop`` (polled) abandons it as a problem of kind "Stopped"."""
        proc, module = self._proc, self.function.partition(":")[0]
        deadline = self._begun + timeout_s
        try:
            while proc.poll() is None:
                if stop is not None and stop.is_set():
                    return PreflightProblem(self.function, "Stopped", "stopped while importing")
                if time.monotonic() > deadline:
                    return PreflightProblem(self.function, "Hang", f"importing module {module!r} did not finish "
                                            f"within {timeout_s:g} s (does it wait or loop at import?)")
                time.sleep(POLL_S)
            out = proc.stdout.read() if proc.stdout is not None else b""
        finally:
            self.end()
        return _verdict(self.function, module, proc.returncode, out)

    def end(self) -> None:
        """Kill the child's session and stop guarding it (idempotent)."""
        if self._ended:
            return
        self._ended = True
        try:
            _end(self._proc)
        finally:
            guardian.done(self._needle)


def check(function: str, timeout_s: float = PREFLIGHT_S, stop: threading.Event | None = None,
          cwd: str | None = None) -> PreflightProblem | None:
    """None if ``function`` imports and is callable in a fresh interpreter; otherwise the problem.

    ``stop`` (polled) abandons the check early, as a problem of kind "Stopped".
    """
    return ImportCheck(function, cwd).wait(timeout_s, stop)


def _verdict(function: str, module: str, code: int, out: bytes) -> PreflightProblem | None:
    for line in reversed(out.decode("utf-8", "replace").splitlines()):
        if line.startswith("PROCVIZ-PREFLIGHT "):
            try:
                said = json.loads(line.partition(" ")[2])
            except ValueError:
                break
            if said.get("ok"):
                return None
            return PreflightProblem(function, str(said.get("kind", "Error")), str(said.get("message", "")),
                                    str(said.get("traceback", "")))
    from procviz.engine.events import describe_exit  # numpy: only for this rare message

    return PreflightProblem(function, "Exit", f"the process importing module {module!r} {describe_exit(code)} "
                            "(os._exit or a crash at import)")


def _end(proc: subprocess.Popen) -> None:
    """Kill the child's whole session (what the import started goes too) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(2.0)
    except subprocess.TimeoutExpired:
        pass
    if proc.stdout is not None:
        proc.stdout.close()
