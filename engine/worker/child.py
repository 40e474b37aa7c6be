"""The child side of the processes the engine starts one by one (a Process per task, the serial
worker, scenario roles): their entry points, standard library only.

:func:`child_init` is :func:`procviz.engine.worker.instrument.worker_init` with a lane name (the
role, the daemon flag), built from the instrument's public calls; :func:`child_main` runs a list
of task calls through the same measured :func:`procviz.engine.worker.instrument.run_task` wrapper
as a Pool worker. The parent side is :mod:`procviz.engine.backends.children`.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from multiprocessing import util
from typing import Any

from procviz.engine.worker import lifeline
from procviz.engine.worker.instrument import TaskItem, announce_thread, connect_threads, recorder, run_task
from procviz.engine.worker.startup import preload
from procviz.engine.worker.wire import LaneKind

FLUSH_ON_SIGTERM_S = 0.3


def _flush_then_die(signum: int, frame: Any) -> None:
    """SIGTERM: send buffered events, then die by SIGTERM so the exit code stays true.

    The flush has a deadline: the signal may have interrupted this very thread while it held the
    recorder's lock, and waiting for it here would never end.
    """
    rec = recorder()
    if rec is not None:
        try:
            rec.flush(timeout_s=FLUSH_ON_SIGTERM_S)
        except Exception:  # noqa: BLE001 - dying anyway; the engine reconstructs what is missing
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _close_recorder() -> None:
    # (At normal exit, on the main thread: the lane's own thread.) The goodbye carries its last
    # counters, as a Pool worker's does: a process gone before the engine could read it (a role
    # that lives a few ms, one reaped before its zombie was read) has its strip from them.
    rec = recorder()
    if rec is not None:
        rec.close(final=threading.current_thread() is threading.main_thread())


def child_init(address: str, name: str) -> None:
    """Connect to the engine and announce this process as a lane called ``name``.

    Same duties as ``worker_init``: SIGINT ignored (the parent decides how a run ends), SIGTERM
    flushes first, normal exit sends a goodbye through a multiprocessing finalizer.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lifeline.arm(address)  # dies with the engine's process (and tags what it starts)
    connect_threads(address)
    signal.signal(signal.SIGTERM, _flush_then_die)
    util.Finalize(None, _close_recorder, exitpriority=100)
    announce_thread(LaneKind.PROCESS, name)


@dataclass(frozen=True, slots=True)
class StartGate:
    """Two events: the child says it is ready, the parent says go (so tasks are handed over then)."""

    ready: Any  # multiprocessing Event
    go: Any  # multiprocessing Event

    @staticmethod
    def make(ctx: Any) -> StartGate:
        """A closed gate made from a multiprocessing context."""
        return StartGate(ctx.Event(), ctx.Event())


def child_main(address: str, name: str, function: str, report: bool, items: tuple[TaskItem, ...],
               progress: Any = None, gate: StartGate | None = None) -> None:
    """Run ``function`` over ``items`` one after another, measured; ``progress.value`` counts the
    items taken so far.

    The parent reads ``progress`` after a crash to know which calls never started. The first
    call's module is imported during start-up, watched (see :mod:`procviz.engine.worker.startup`).
    """
    preload(address, function if items else "")
    child_init(address, name)
    if gate is not None:
        gate.ready.set()
        gate.go.wait()
    for i, item in enumerate(items):
        if progress is not None:
            progress.value = i + 1
        run_task(function, report, item)
