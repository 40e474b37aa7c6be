"""Small task functions for presets, tutorials and tests: results, failures and crashes on demand.

Each is a top-level function so every start method can import it in a worker, e.g.
``{"kind": "function", "function": "procviz.engine.worker.demo_tasks:square", "args": [[1], [2]]}``.
"""

from __future__ import annotations

import os
import signal
import time


def square(x: float, ms: float = 0.0) -> float:
    """x * x, after sleeping ``ms`` milliseconds (the tutorials' favourite task)."""
    if ms:
        time.sleep(ms / 1000.0)
    return x * x


def fail_if(x: int, bad: int = 3, ms: float = 10.0) -> int:
    """Return x after ``ms``, but raise ValueError when x == bad."""
    time.sleep(ms / 1000.0)
    if x == bad:
        raise ValueError(f"task refused x={x}")
    return x


def exit_if(x: int, bad: int = 3, code: int = 3, ms: float = 10.0) -> int:
    """Return x after ``ms``, but call sys.exit(code) when x == bad (SystemExit in the task)."""
    time.sleep(ms / 1000.0)
    if x == bad:
        raise SystemExit(code)
    return x


def hard_exit_if(x: int, bad: int = 3, code: int = 7, ms: float = 10.0) -> int:
    """Return x after ``ms``, but end the worker with os._exit(code) when x == bad."""
    time.sleep(ms / 1000.0)
    if x == bad:
        os._exit(code)
    return x


def kill_self_if(x: int, bad: int = 3, ms: float = 10.0, delay_ms: float = 100.0) -> int:
    """Return x after ``ms``, but SIGKILL its own worker after ``delay_ms`` when x == bad."""
    if x == bad:
        time.sleep(delay_ms / 1000.0)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(ms / 1000.0)
    return x


class UnpicklableError(Exception):
    """An exception that pickles but cannot be unpickled (its __init__ needs two arguments)."""

    def __init__(self, a: object, b: object) -> None:
        super().__init__(f"{a}/{b}")


def raise_unpicklable(x: int) -> int:
    """Raise an exception that would hang a plain Pool.map (it cannot be unpickled)."""
    raise UnpicklableError(x, "b")


def hang(x: int, seconds: float = 3600.0) -> int:
    """Sleep far longer than any timeout (for timeout and Stop tests)."""
    time.sleep(seconds)
    return x


def whoami(x: int, ms: float = 5.0) -> int:
    """The PID of the worker that ran the task (to check that lanes carry real PIDs)."""
    time.sleep(ms / 1000.0)
    return os.getpid()


def fail_loudly(x: int, size: int = 1000) -> int:
    """Raise an exception with a ``size``-character message (large error texts)."""
    raise RuntimeError(f"task {x} failed: " + "x" * size)


def heavy_modules(x: int) -> str:
    """The modules loaded in this worker that a worker should never import, comma-separated ("" if
    none): numpy, psutil, Qt, and procviz's parent-side modules (workers stay standard library only)."""
    import sys

    heavy = {"numpy", "psutil", "PySide6", "pyqtgraph"}
    # procviz.gui.app is the ``procviz`` console script's module, which spawn re-imports as the
    # main module in every child, exactly as it re-imports a user's script; it imports no Qt.
    allowed = ("procviz", "procviz.engine", "procviz.engine.worker", "procviz.gui", "procviz.gui.app")
    bad = [name for name in sys.modules if name in heavy
           or (name.startswith("procviz") and name not in allowed and not name.startswith("procviz.engine.worker."))]
    return ",".join(sorted(bad))


def noop(*args: object) -> None:
    """Do nothing: what a run of these costs is the cost of running tasks at all (benchmarks)."""
