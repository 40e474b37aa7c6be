"""Worker process classes whose start, terminate and join the engine hears of.

They live on the worker side because spawn and forkserver pickle the Process object into the
child, which imports its class's module: this one imports the standard library only. The hooks
run in the parent (where the Pool or executor starts, terminates and joins its workers); the
observer they call is found through a registry by a plain key, because a pickled Process may
carry only plain data.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable
from multiprocessing.context import ForkProcess, ForkServerProcess, SpawnProcess
from typing import Any, Protocol


class ProcessObserver(Protocol):
    """What a backend registers to hear of its worker processes (called on the parent's threads)."""

    def on_start(self, proc: Any) -> None:
        """``proc`` was started."""

    def on_terminate(self, proc: Any) -> None:
        """``proc`` is about to be sent SIGTERM."""

    def on_join(self, proc: Any) -> None:
        """``proc`` was joined (its ``exitcode`` is set if it has exited)."""


_OBSERVERS: dict[int, ProcessObserver] = {}
_keys = iter(range(1, 1 << 62))
# How start() runs: set by the parent to start every worker from its long-lived spawner thread
# (procviz.engine.spawner: a worker's PR_SET_PDEATHSIG fires when the thread that forked it ends).
_start_in: Callable[[Callable[[], None]], None] | None = None


def start_processes_in(runner: Callable[[Callable[[], None]], None]) -> None:
    """Make every observed process call its real ``start`` through ``runner(start)``."""
    global _start_in
    _start_in = runner


def register_observer(observer: ProcessObserver) -> int:
    """Register ``observer``; returns the key its processes carry (``proc._procviz_key``)."""
    key = next(_keys)
    _OBSERVERS[key] = observer
    return key


def forget_observer(key: int) -> None:
    """Drop an observer (its backend is shut down; its processes keep their key, harmlessly)."""
    _OBSERVERS.pop(key, None)


class _ObservedMixin:
    """Tells its observer about start, terminate and join."""

    _procviz_key = 0

    def _observer(self) -> ProcessObserver | None:
        return _OBSERVERS.get(self._procviz_key)

    def start(self) -> None:
        """Start the process (through the parent's start runner, if set), then tell the observer."""
        runner = _start_in
        if runner is None:
            super().start()  # type: ignore[misc]
        else:
            runner(super().start)  # type: ignore[misc]
        observer = self._observer()
        if observer is not None:
            observer.on_start(self)

    def terminate(self) -> None:
        """Tell the observer, then SIGTERM."""
        observer = self._observer()
        if observer is not None:
            observer.on_terminate(self)
        super().terminate()  # type: ignore[misc]

    def join(self, timeout: float | None = None) -> None:
        """Join, then tell the observer."""
        super().join(timeout)  # type: ignore[misc]
        observer = self._observer()
        if observer is not None:
            observer.on_join(self)


class ObservedSpawnProcess(_ObservedMixin, SpawnProcess):
    """A spawn worker its observer hears of; it ends as fork and forkserver workers do."""

    def _bootstrap(self, parent_sentinel: Any = None) -> int:
        """Run the worker (in the child), then end it with ``os._exit`` when nothing is left to run.

        A fork or forkserver worker leaves through ``os._exit`` once its ``_bootstrap`` returns; a
        spawn worker alone returns to ``spawn_main``, whose ``sys.exit`` tears the interpreter
        down module by module: 20-40 ms more of every run's shutdown, waited for by the Pool's
        join. ``_bootstrap`` has done by then what the worker's own exit needs (multiprocessing's
        finalizers, with the worker's last events and final counters; non-daemon threads joined;
        stdout and stderr flushed). What is skipped, as fork and forkserver workers skip it: the
        atexit callbacks registered before the worker began (logging's flush of its handlers, if
        the parent's main module imported logging), ``__del__`` methods run by the teardown, and
        unflushed buffers of files left open. When the task's code registered an atexit callback
        of its own (the count grew since the worker began), the worker leaves the usual way and
        every callback runs.
        """
        registered = atexit._ncallbacks()
        code = super()._bootstrap(parent_sentinel)  # type: ignore[misc]
        if atexit._ncallbacks() <= registered:
            for stream in (sys.stdout, sys.stderr):  # flushed by _bootstrap already; again in case
                try:  # a finalizer wrote since
                    stream.flush()
                except (AttributeError, OSError, ValueError):
                    pass
            os._exit(code)
        return int(code)


class ObservedForkServerProcess(_ObservedMixin, ForkServerProcess):
    """A forkserver worker its observer hears of."""


class ObservedForkProcess(_ObservedMixin, ForkProcess):
    """A fork worker its observer hears of."""


OBSERVED = {"spawn": ObservedSpawnProcess, "forkserver": ObservedForkServerProcess, "fork": ObservedForkProcess}
