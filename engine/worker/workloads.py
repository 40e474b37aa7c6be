"""Built-in task functions: top-level and picklable, so every start method can run them.

Each takes the planned duration in milliseconds and does one kind of work for about that long:
``cpu`` spins for that much CPU time (on-CPU), ``sleep`` blocks (waiting), ``io`` writes and
fsyncs a scratch file (waiting on the disk), ``mixed`` alternates 5 ms of CPU and 5 ms of sleep.

CPU work is measured in the thread's own CPU time, not wall time: a CPU task is a fixed amount of
work, so when workers outnumber cores it takes longer and the extra shows as "ready" time —
exactly what the tutorials' "more processes than cores" lesson is about.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

BUILTIN_FUNCTIONS = {
    "cpu": "procviz.engine.worker.workloads:cpu",
    "sleep": "procviz.engine.worker.workloads:sleep",
    "io": "procviz.engine.worker.workloads:io",
    "mixed": "procviz.engine.worker.workloads:mixed",
}


def cpu(ms: float) -> int:
    """Spin until this thread has used ``ms`` of CPU time; returns the loop count."""
    end = time.thread_time_ns() + int(ms * 1e6)
    n = 0
    while time.thread_time_ns() < end:
        n += 1
    return n


def sleep(ms: float) -> None:
    """Block for ``ms`` milliseconds (the process is waiting, off the CPU)."""
    time.sleep(ms / 1000.0)


def io(ms: float, block_bytes: int = 64 * 1024) -> int:
    """Write and fsync 64 KiB blocks to a scratch file until ``ms`` have passed; returns bytes written."""
    end = time.monotonic_ns() + int(ms * 1e6)
    block = os.urandom(block_bytes)
    written = 0
    with tempfile.TemporaryFile(prefix="procviz-io-") as f:
        while True:
            f.write(block)
            f.flush()
            os.fsync(f.fileno())
            written += block_bytes
            if time.monotonic_ns() >= end:
                return written


def mixed(ms: float, slice_ms: float = 5.0) -> None:
    """Alternate ``slice_ms`` of CPU spinning and ``slice_ms`` of sleep for ``ms`` in total."""
    end = time.monotonic_ns() + int(ms * 1e6)
    while True:
        now = time.monotonic_ns()
        if now >= end:
            return
        spin_end = time.thread_time_ns() + int(min(slice_ms * 1e6, end - now))
        while time.thread_time_ns() < spin_end:
            pass
        left = (end - time.monotonic_ns()) / 1e9
        if left > 0:
            time.sleep(min(slice_ms / 1000.0, left))


_cache: dict[str, Callable[..., Any]] = {}

# Before procviz installed as one package its modules were top-level ``engine.*``; files and presets
# written then still name them so (``engine.demo_tasks:square``).
_LEGACY_PREFIXES = ("engine", "gui")
# Modules that moved into the worker subpackage, by their former names: saved files, presets and
# scripts name their functions so (``procviz.engine.workloads:cpu``).
_MOVED_TO_WORKER = {f"procviz.engine.{name}": f"procviz.engine.worker.{name}"
                    for name in ("workloads", "demo_tasks", "instrument", "primitives", "clock")}


def legacy_module(module_name: str) -> str:
    """The current name of a module named the pre-``procviz.`` way or before it moved; others unchanged."""
    head = module_name.partition(".")[0]
    if head in _LEGACY_PREFIXES and "." in module_name:
        module_name = f"procviz.{module_name}"
    return _MOVED_TO_WORKER.get(module_name, module_name)


def resolve(ref: str) -> Callable[..., Any]:
    """Import ``module:function`` once per process and return the function.

    The module is looked up in the current folder first, as ``python script.py`` looks next to the
    script: ``procviz run --function mytasks:work`` works from the folder holding ``mytasks.py``.
    This runs in the parent (which checks the function before starting workers) and again in every
    worker. Workers share the parent's folder: spawn workers start in it with the parent's
    ``sys.path``; forkserver workers are forked from a server started in it, and add it here
    themselves in case the server started before the parent added it.
    """
    fn = _cache.get(ref)
    if fn is None:
        module_name, _, attr = ref.partition(":")
        fn = getattr(import_user_module(legacy_module(module_name)), attr)
        if not callable(fn):
            raise TypeError(f"{ref} is not callable")
        _cache[ref] = fn
    return fn


def import_user_module(name: str) -> ModuleType:
    """Import ``name`` with the current folder first on ``sys.path``; a module not found says where it looked.

    The folder goes first only for this import, then to the end of ``sys.path``: the user's module
    (and what it imports as it loads) is found in the folder first, while modules that procviz
    imports later (rich, orjson, ...) are not shadowed by a same-named file there. A sibling
    module imported later still resolves, from the end of the path.
    """
    folder = os.getcwd()
    own = name.partition(".")[0] == "procviz"
    if not own:
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"{exc} (looked in {_places()})", name=exc.name, path=exc.path) from None
    finally:
        if not own and sys.path and sys.path[0] == folder:
            sys.path.append(sys.path.pop(0))
    return module


def _places(shown: int = 3) -> str:
    """The first few ``sys.path`` entries, for a message."""
    places = list(dict.fromkeys(p or os.getcwd() for p in sys.path))  # "" and the cwd are one place
    more = len(places) - shown
    return ", ".join(places[:shown]) + (f" and {more} more sys.path entries" if more > 0 else "")
